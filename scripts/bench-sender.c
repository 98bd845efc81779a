/*
 * bench-sender: replays captured NetFlow/IPFIX export datagrams to 127.0.0.1:PORT at a fixed rate,
 * for a bounded time and count, and prints what it sent. Loopback only: the destination address is
 * fixed. Compiled by scripts/bench-collector.ts at bench time (gcc -O2).
 *
 *   bench-sender FILE PORT DATAGRAMS_PER_SECOND SECONDS
 *
 * FILE holds records of: u16 length (big-endian), u16 flow records in it, u32 octets those records
 * count, then the datagram. The datagrams are sent in order, cycling; output is one line:
 *   datagrams=N records=N octets=N seconds=F
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct dgram {
  uint16_t len;
  uint16_t records;
  uint32_t octets;
  unsigned char *data;
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s FILE PORT DATAGRAMS_PER_SECOND SECONDS\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[2]);
  double rate = atof(argv[3]);
  double seconds = atof(argv[4]);
  if (port <= 0 || port > 65535 || rate <= 0 || rate > 5e6 || seconds <= 0 || seconds > 600) {
    fprintf(stderr, "bench-sender: bad arguments\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    perror("bench-sender: open");
    return 1;
  }
  size_t cap = 1024, n = 0;
  struct dgram *d = malloc(cap * sizeof *d);
  unsigned char hdr[8];
  while (fread(hdr, 1, 8, f) == 8) {
    if (n == cap) d = realloc(d, (cap *= 2) * sizeof *d);
    d[n].len = (uint16_t)(hdr[0] << 8 | hdr[1]);
    d[n].records = (uint16_t)(hdr[2] << 8 | hdr[3]);
    d[n].octets = (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 | (uint32_t)hdr[6] << 8 | hdr[7];
    d[n].data = malloc(d[n].len);
    if (fread(d[n].data, 1, d[n].len, f) != d[n].len) break;
    n++;
  }
  fclose(f);
  if (n == 0) {
    fprintf(stderr, "bench-sender: no datagrams in %s\n", argv[1]);
    return 1;
  }

  int s = socket(AF_INET, SOCK_DGRAM, 0);
  int sndbuf = 8 << 20;
  setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_port = htons((uint16_t)port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only, by construction */
  if (connect(s, (struct sockaddr *)&to, sizeof to) != 0) {
    perror("bench-sender: connect");
    return 1;
  }

  /* Bounded in time and in count: at most rate * seconds datagrams. */
  const unsigned long long max = (unsigned long long)(rate * seconds);
  unsigned long long sent = 0, records = 0, octets = 0;
  size_t i = 0;
  const double t0 = now();
  double elapsed = 0;
  while (sent < max && (elapsed = now() - t0) < seconds + 5) {
    unsigned long long due = (unsigned long long)(rate * elapsed);
    if (due > max) due = max;
    while (sent < due) {
      if (send(s, d[i].data, d[i].len, 0) < 0) {
        /* ECONNREFUSED (no listener yet) or ENOBUFS: count it as sent; the receiver's loss shows it. */
      }
      records += d[i].records;
      octets += d[i].octets;
      sent++;
      if (++i == n) i = 0;
    }
    struct timespec pause = {0, 50000}; /* 50 us */
    nanosleep(&pause, NULL);
  }
  printf("datagrams=%llu records=%llu octets=%llu seconds=%.3f\n", sent, records, octets, now() - t0);
  close(s);
  return 0;
}
