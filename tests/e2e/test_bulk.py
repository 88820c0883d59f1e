# SPDX-License-Identifier: BSD-3-Clause
"""Many packets of every size arrive intact and in order (per sender->receiver
pair derper relays in order and, below its queue limit, without loss)."""
import random

import pytest

from derp_helpers import stream, tagged_packet

SEED = 0xDE4B
COUNT = 1000


def bulk_packets(seed=SEED, count=COUNT):
    """`count` packets of seeded-random sizes in 1..65535, with the edge sizes
    1 and 65535 (and the short tags 2..5) placed explicitly."""
    rng = random.Random(seed)
    sizes = [rng.randint(1, 65535) for _ in range(count)]
    for i, size in enumerate((1, 65535, 2, 3, 4, 5, 65535, 1)):
        sizes[i * (count // 8)] = size
    sizes[-1] = 65535
    pattern = rng.randbytes(65535 + 251)
    return [tagged_packet(seq, size, pattern) for seq, size in enumerate(sizes)]


@pytest.mark.parametrize("wa,wb", [(0, 1), (0, 0)], ids=["cross-worker", "same-worker"])
def test_bulk_intact_and_in_order(derp_server, connect, wa, wb):
    """1,000 packets sent with flow control (see derp_helpers.WINDOW_*, below
    any per-client queue limit): zero loss, exact order, exact bytes."""
    srv = derp_server(workers=2)
    a, b = connect(srv, worker=wa), connect(srv, worker=wb)
    packets = bulk_packets()
    assert {len(p) for p in packets} >= {1, 65535}
    stream(a, b, packets, timeout=60)
