"""How a litestream line lays a replica out in the bucket (0.5: LTX levels, 0.3: generations).

>>> Layout("0.3")
<Layout.V03: '0.3'>
"""

from __future__ import annotations

import enum


class Layout(str, enum.Enum):
    """How a litestream line lays a replica out in the bucket."""

    V05 = "0.5"  #: LTX files, one folder per compaction level
    V03 = "0.3"  #: generations, each with snapshots and WAL segments
