"""netsplit.py: a TCP proxy in front of PostgreSQL's unix socket that can cut traffic.

A node given `host=127.0.0.1 port=PROXY` reaches the database through the proxy.
cut() freezes every relayed connection (bytes stop flowing, sockets stay open,
as in a network partition) and makes new connections hang; heal() resumes.
"""

import os
import select
import socket
import threading


class NetSplit:
    def __init__(self, unix_path):
        self.unix_path = unix_path
        self.open = threading.Event()
        self.open.set()
        self.stopping = False
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.socks = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self):
        self.open.clear()

    def heal(self):
        self.open.set()

    def close(self):
        self.stopping = True
        self.open.set()
        for s in [self.listener] + self.socks:
            try:
                s.close()
            except OSError:
                pass

    def _accept(self):
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client):
        # A connection made during a cut hangs until the cut heals.
        self.open.wait()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            server.connect(self.unix_path)
        except OSError:
            client.close()
            return
        with self.lock:
            self.socks += [client, server]
        peers = {client: server, server: client}
        try:
            while not self.stopping:
                if not self.open.is_set():
                    self.open.wait(0.05)
                    continue
                ready, _, _ = select.select(list(peers), [], [], 0.05)
                for s in ready:
                    if not self.open.is_set():
                        break
                    data = s.recv(65536)
                    if not data:
                        return
                    peers[s].sendall(data)
        except OSError:
            pass
        finally:
            client.close()
            server.close()


def pg_unix_path(pg):
    """Path of the PostgreSQL socket of a harness PgCluster."""
    return os.path.join(pg.sock, ".s.PGSQL.%d" % pg.port)
