/* delaylink.c — a delayed, rate-limited link between two network namespaces, for
** kernels built without tc's netem (twohosts.sh uses it only then).
**   delaylink NS1 DEV1 NS2 DEV2 DELAY_US RATE_BITS_PER_S
** creates the TUN device DEV1 inside namespace NS1 and DEV2 inside NS2 and copies every
** packet one to the other, the way netem does: a packet leaves when the link is free
** and it has been sent at RATE (0: no limit), and arrives DELAY_US after that. Each
** direction is a FIFO (constant delay keeps arrival times in order), so one queue per
** direction and one timer suffice. The devices live as long as this process; it ends on
** SIGTERM or SIGINT. It runs at real-time priority when it may, so busy-polling MPI
** ranks on the same cores do not add their time slices to the delay. A timed wait
** returns late (0.1 to 0.4 ms in a virtual machine), so it learns how late and asks to
** be woken that much early: the delay is right on average, with the wake-up's jitter. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MAXPKT 65536
#define QUEUE_BYTES (256L << 20)   /* per direction; beyond it packets drop, as netem's limit */

typedef struct packet {
  struct packet *next;
  int64_t due;   /* ns, CLOCK_MONOTONIC */
  int len;
  unsigned char data[];
} packet;

typedef struct direction {
  int in, out;
  packet *head, *tail;
  long queued;      /* bytes */
  int64_t free_at;  /* when the link finishes sending what it holds */
} direction;

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* a TUN device named dev inside namespace ns; the fd stays valid back in ours */
static int open_tun(const char *ns, const char *dev) {
  char path[256];
  struct ifreq ifr;
  int self = open("/proc/self/ns/net", O_RDONLY), there, fd;
  snprintf(path, sizeof path, "/var/run/netns/%s", ns);
  there = open(path, O_RDONLY);
  if (self < 0 || there < 0 || setns(there, CLONE_NEWNET) != 0) {
    fprintf(stderr, "delaylink: cannot enter namespace %s: %s\n", ns, strerror(errno));
    exit(1);
  }
  fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK);
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", dev);
  if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) != 0) {
    fprintf(stderr, "delaylink: cannot create TUN device %s in %s: %s\n", dev, ns, strerror(errno));
    exit(1);
  }
  if (setns(self, CLONE_NEWNET) != 0) { perror("delaylink: setns"); exit(1); }
  close(self);
  close(there);
  return fd;
}

/* reads what is waiting on d->in and queues it with its arrival time */
static void take(direction *d, int64_t delay, double ns_per_byte) {
  static unsigned char buf[MAXPKT];
  for (;;) {
    ssize_t n = read(d->in, buf, sizeof buf);
    if (n <= 0) return;
    int64_t t = now_ns();
    if (d->queued + n > QUEUE_BYTES) continue;
    packet *p = malloc(sizeof *p + (size_t)n);
    if (p == NULL) continue;
    if (d->free_at < t) d->free_at = t;
    d->free_at += (int64_t)(ns_per_byte * (double)n);
    p->due = d->free_at + delay;
    p->len = (int)n;
    p->next = NULL;
    memcpy(p->data, buf, (size_t)n);
    if (d->tail) d->tail->next = p; else d->head = p;
    d->tail = p;
    d->queued += n;
  }
}

/* writes every packet that has arrived (or will have by the time a wake-up takes) */
static void give(direction *d, int64_t t) {
  while (d->head && d->head->due <= t) {
    packet *p = d->head;
    if (write(d->out, p->data, (size_t)p->len) < 0 && errno == EAGAIN) return;
    d->head = p->next;
    if (d->head == NULL) d->tail = NULL;
    d->queued -= p->len;
    free(p);
  }
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: delaylink NS1 DEV1 NS2 DEV2 DELAY_US RATE_BITS_PER_S\n");
    return 2;
  }
  int64_t delay = (int64_t)(atof(argv[5]) * 1000);
  double rate = atof(argv[6]);
  double ns_per_byte = rate > 0 ? 8e9 / rate : 0;
  int a = open_tun(argv[1], argv[2]), b = open_tun(argv[3], argv[4]);
  direction dir[2] = { { a, b, NULL, NULL, 0, 0 }, { b, a, NULL, NULL, 0, 0 } };
  struct sched_param sp = { .sched_priority = 10 };
  sched_setscheduler(0, SCHED_FIFO, &sp);   /* best effort */
  prctl(PR_SET_TIMERSLACK, 1UL);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGHUP, SIG_IGN);
  printf("ready\n");
  fflush(stdout);
  int64_t late = 0;   /* how late a timed wait returns, on average (ns) */
  while (!stop) {
    struct pollfd fds[2] = { { a, POLLIN, 0 }, { b, POLLIN, 0 } };
    int64_t t = now_ns(), next = INT64_MAX, wake = 0;
    for (int i = 0; i < 2; i++)
      if (dir[i].head && dir[i].head->due < next) next = dir[i].head->due;
    struct timespec to, *top = NULL;
    if (next != INT64_MAX) {
      wake = next - late;
      int64_t w = wake > t ? wake - t : 0;
      to.tv_sec = w / 1000000000;
      to.tv_nsec = w % 1000000000;
      top = &to;
    }
    int r = ppoll(fds, 2, top, NULL);
    if (r < 0 && errno != EINTR) { perror("delaylink: ppoll"); return 1; }
    t = now_ns();
    if (r == 0 && wake > 0) {
      int64_t l = t - wake;
      late += (l - late) / 8;
      if (late < 0) late = 0;
      if (late > delay / 2) late = delay / 2;
    }
    if (fds[0].revents & POLLIN) take(&dir[0], delay, ns_per_byte);
    if (fds[1].revents & POLLIN) take(&dir[1], delay, ns_per_byte);
    give(&dir[0], t + late);
    give(&dir[1], t + late);
  }
  return 0;
}
