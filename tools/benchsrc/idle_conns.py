"""Opens N keep-alive connections to a server, sends one request on each, reads the answers and
then holds them idle; prints the server's resident memory before and after (from /proc)."""
import socket
import sys
import time


def rss_kib(pid):
    total = 0
    for p in pid.split(","):
        with open("/proc/%s/status" % p) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def main():
    port, n, pid, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    time.sleep(0.5)
    before = rss_kib(pid)
    socks = []
    req = ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode()
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(req)
        socks.append(s)
        if len(socks) % 500 == 0:
            for t in socks[-500:]:
                t.recv(4096)
    for t in socks[len(socks) - len(socks) % 500:]:
        t.recv(4096)
    time.sleep(1.0)
    after = rss_kib(pid)
    print("%d %d %d" % (n, before, after))
    for s in socks:
        s.close()


main()
