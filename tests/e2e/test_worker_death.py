"""A worker killed by SIGKILL: the master logs it and starts a new one; the
dead worker's clients are gone (their peers get PeerGone), and clients on
the other workers never notice."""
import os
import signal
import threading

from derp_client import PEER_GONE_DISCONNECTED, PEER_GONE_NOT_HERE, disco_packet
from derp_helpers import exchange, stream, tagged_packet

PATTERN = bytes(range(256)) * 8


def test_worker_killed_and_respawned(derp_server, connect):
    srv = derp_server(workers=2)
    a = connect(srv, worker=0)
    b = connect(srv, worker=1)
    c, d = connect(srv, worker=1), connect(srv, worker=1)
    a.send_packet(b.pub, b"a to b")
    assert b.recv_packet() == (a.pub, b"a to b")       # B now expects PeerGone(A)
    exchange(c, d)

    # C -> D keeps streaming (about 2 s, paced) while worker 0 dies.
    failure = []

    def c_to_d():
        try:
            stream(c, d, [tagged_packet(i, 1000, PATTERN) for i in range(200)],
                   timeout=30, pace=0.01)
        except BaseException as e:
            failure.append(e)

    streamer = threading.Thread(target=c_to_d, daemon=True)
    old_pid = srv.worker_pid(0)
    mark = srv.log_mark()
    streamer.start()
    os.kill(old_pid, signal.SIGKILL)

    srv.wait_log(r"worker 0 .*killed by signal 9", since=mark)
    new_pid = int(srv.wait_log(r"worker 0 started, pid (\d+)", since=mark).group(1))
    assert new_pid != old_pid
    srv.wait_log(r"\[worker 0\]: ready", since=mark)
    assert srv.worker_pid(0) == new_pid

    assert a.is_closed_by_server(timeout=10), "A's connection outlived its worker"
    assert b.recv_peer_gone(timeout=10) == (a.pub, PEER_GONE_DISCONNECTED)

    streamer.join(40)
    assert not streamer.is_alive(), "C -> D stream did not finish"
    if failure:
        raise failure[0]

    # A's key has no route any more.
    b.send_packet(a.pub, disco_packet())
    assert b.recv_peer_gone() == (a.pub, PEER_GONE_NOT_HERE)

    stream(d, c, [tagged_packet(i, 1000, PATTERN) for i in range(200)], timeout=30)
    e = connect(srv, worker=0)
    exchange(e, b)
