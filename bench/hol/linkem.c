/*
 * linkem: a fixed one-way delay between two network interfaces, done honestly at layer 2.
 *
 * Why it exists: this kernel has no netem, and a user-space TCP relay would split the TCP connection (each
 * half recovering its losses at the relay's short RTT), which would flatter WebSocket. linkem instead moves
 * raw Ethernet frames between two veths in a middle network namespace with AF_PACKET sockets and holds each
 * one for a fixed time before sending it on, so TCP and QUIC both run end to end over one path with the full
 * delay. Frames keep their order (a fixed delay never reorders). Loss is not done here: nftables drops on the
 * receiving hosts' input hooks (the project's verified recipe); a rate limit, if wanted, is a tbf qdisc on
 * the egress interfaces, which this program's sends go through like a router's.
 *
 * PACKET_VNET_HDR carries the checksum-offload metadata across (a veth hands frames over with the checksum
 * still to be filled in); frames that arrive as GSO super-packets are counted, because loss applied to them
 * would not be per-packet (the lab sets gso_max_segs 1 and gro_max_size so that none should appear).
 *
 *   linkem IFACE_A IFACE_B DELAY_US
 *
 * Prints one JSON line of counters on SIGTERM/SIGINT and exits.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME 65536 + sizeof(struct virtio_net_hdr)
/* Bytes one direction may hold before it drops (a cap on memory, never reached at the lab's rates). */
#define MAX_QUEUED_BYTES (64L << 20)

struct frame {
  struct frame *next;
  uint64_t due_ns;
  size_t len;
  unsigned char data[];
};

struct direction {
  int in_fd, out_fd;
  struct frame *head, *tail;
  long queued_bytes;
  uint64_t forwarded, bytes, queue_drops, send_drops, gso_frames, max_late_ns, sum_late_ns, late_1ms, late_10ms;
};

static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int open_socket(const char *name) {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
  if (fd < 0) { perror("socket(AF_PACKET)"); exit(2); }
  int one = 1;
  if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) { perror("PACKET_VNET_HDR"); exit(2); }
  /* Our own sends on this interface must not come back to us as input. */
  if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) { perror("PACKET_IGNORE_OUTGOING"); exit(2); }
  int buf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf);
  struct sockaddr_ll addr = {0};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = (int)if_nametoindex(name);
  if (addr.sll_ifindex == 0) { fprintf(stderr, "no interface %s\n", name); exit(2); }
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); exit(2); }
  return fd;
}

static void receive(struct direction *d, uint64_t delay_ns) {
  static unsigned char buf[MAX_FRAME];
  for (;;) {
    ssize_t n = recv(d->in_fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      perror("recv");
      return;
    }
    if ((size_t)n <= sizeof(struct virtio_net_hdr)) continue;
    const struct virtio_net_hdr *vh = (const struct virtio_net_hdr *)buf;
    if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE) d->gso_frames++;
    if (d->queued_bytes + n > MAX_QUEUED_BYTES) { d->queue_drops++; continue; }
    struct frame *f = malloc(sizeof *f + (size_t)n);
    if (!f) { d->queue_drops++; continue; }
    f->next = NULL;
    f->due_ns = now_ns() + delay_ns;
    f->len = (size_t)n;
    memcpy(f->data, buf, (size_t)n);
    if (d->tail) d->tail->next = f; else d->head = f;
    d->tail = f;
    d->queued_bytes += n;
  }
}

static void send_due(struct direction *d) {
  uint64_t now = now_ns();
  while (d->head && d->head->due_ns <= now) {
    struct frame *f = d->head;
    ssize_t n = send(d->out_fd, f->data, f->len, 0);
    if (n < 0 && errno == EAGAIN) return; /* the socket is full: try again on the next turn */
    if (n < 0) d->send_drops++; /* ENOBUFS: the egress queue (tbf) was full, like a router's drop */
    else {
      d->forwarded++;
      d->bytes += f->len - sizeof(struct virtio_net_hdr);
      uint64_t late = now - f->due_ns;
      d->sum_late_ns += late;
      if (late > d->max_late_ns) d->max_late_ns = late;
      if (late > 1000000ull) d->late_1ms++;
      if (late > 10000000ull) d->late_10ms++;
    }
    d->head = f->next;
    if (!d->head) d->tail = NULL;
    d->queued_bytes -= (long)f->len;
    free(f);
  }
}

static void print_direction(const char *name, const struct direction *d, int last) {
  printf("\"%s\":{\"forwarded\":%llu,\"bytes\":%llu,\"queueDrops\":%llu,\"sendDrops\":%llu,\"gsoFrames\":%llu,"
         "\"meanLateUs\":%.1f,\"maxLateUs\":%.1f,\"lateOver1ms\":%llu,\"lateOver10ms\":%llu}%s",
         name, (unsigned long long)d->forwarded, (unsigned long long)d->bytes, (unsigned long long)d->queue_drops,
         (unsigned long long)d->send_drops, (unsigned long long)d->gso_frames,
         d->forwarded ? (double)d->sum_late_ns / (double)d->forwarded / 1000.0 : 0.0, (double)d->max_late_ns / 1000.0,
         (unsigned long long)d->late_1ms, (unsigned long long)d->late_10ms, last ? "" : ",");
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s IFACE_A IFACE_B DELAY_US\n", argv[0]);
    return 2;
  }
  uint64_t delay_ns = strtoull(argv[3], NULL, 10) * 1000ull;
  int a = open_socket(argv[1]);
  int b = open_socket(argv[2]);
  struct direction ab = {.in_fd = a, .out_fd = b}, ba = {.in_fd = b, .out_fd = a};
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  /* The hold must not stretch when the shared cores are busy: run ahead of the browser and the server. */
  struct sched_param sp = {.sched_priority = 20};
  int realtime = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
  mlockall(MCL_CURRENT | MCL_FUTURE);
  printf("{\"ready\":true,\"realtime\":%s}\n", realtime ? "true" : "false");
  fflush(stdout);
  struct pollfd fds[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
  while (!stopping) {
    uint64_t now = now_ns(), next = UINT64_MAX;
    if (ab.head && ab.head->due_ns < next) next = ab.head->due_ns;
    if (ba.head && ba.head->due_ns < next) next = ba.head->due_ns;
    struct timespec timeout, *tp = NULL;
    if (next != UINT64_MAX) {
      uint64_t wait = next > now ? next - now : 0;
      timeout.tv_sec = (time_t)(wait / 1000000000ull);
      timeout.tv_nsec = (long)(wait % 1000000000ull);
      tp = &timeout;
    } else {
      timeout.tv_sec = 0;
      timeout.tv_nsec = 200000000; /* wake now and then to notice a signal */
      tp = &timeout;
    }
    int ready = ppoll(fds, 2, tp, NULL);
    if (ready < 0 && errno != EINTR) { perror("ppoll"); break; }
    if (ready > 0) {
      if (fds[0].revents & POLLIN) receive(&ab, delay_ns);
      if (fds[1].revents & POLLIN) receive(&ba, delay_ns);
    }
    send_due(&ab);
    send_due(&ba);
  }
  printf("{");
  print_direction("aToB", &ab, 0);
  print_direction("bToA", &ba, 1);
  printf("}\n");
  fflush(stdout);
  return 0;
}
