/* A minimal SMTP sink for bench/send.py: accepts everything, stores nothing, counts messages.
 *
 * One thread, epoll, non-blocking sockets. EHLO advertises PIPELINING, 8BITMIME and
 * SMTPUTF8; every command gets 250 (DATA gets 354, QUIT 221), and the end of each message's
 * data (CRLF . CRLF) gets 250 and counts one message. Pipelined commands are answered in
 * order, all the replies of one read sent in one write.
 *
 *     cc -O2 -o smtp_sink smtp_sink.c && ./smtp_sink [port]
 *
 * Prints "port N" once listening (port 0, the default, picks a free one), "first T" when the
 * first message is complete (T: CLOCK_MONOTONIC seconds, Python's time.monotonic()). SIGUSR1
 * prints "messages N connections N bytes N" (bytes: all received); SIGUSR2 sets the counters
 * back to zero and prints "reset"; SIGTERM prints the counters and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 64
#define LINE_MAX_LEN 4096
#define OUT_MAX 65536

enum mode { COMMAND, DATA };

struct conn {
    int fd;
    enum mode mode;
    int data_state; /* progress through "\r\n.\r\n", starting at a line start (state 2) */
    size_t line_len;
    char line[LINE_MAX_LEN];
    size_t out_len;
    char out[OUT_MAX];
    int closing;
};

static volatile sig_atomic_t report_wanted = 0;
static volatile sig_atomic_t stop_wanted = 0;
static volatile sig_atomic_t reset_wanted = 0;
static unsigned long long messages = 0;
static unsigned long long connections = 0;
static unsigned long long received = 0;
static int first_reported = 0;

static void on_usr1(int sig) { (void)sig; report_wanted = 1; }
static void on_term(int sig) { (void)sig; stop_wanted = 1; }
static void on_usr2(int sig) { (void)sig; reset_wanted = 1; }

static void report(void) {
    printf("messages %llu connections %llu bytes %llu\n", messages, connections, received);
    fflush(stdout);
}

static void reply(struct conn *c, const char *text) {
    size_t n = strlen(text);
    if (c->out_len + n > OUT_MAX) return; /* a client this far behind is misbehaving */
    memcpy(c->out + c->out_len, text, n);
    c->out_len += n;
}

/* Write what is queued; returns -1 when the connection is gone. */
static int flush_out(struct conn *c) {
    size_t done = 0;
    while (done < c->out_len) {
        ssize_t n = send(c->fd, c->out + done, c->out_len - done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return -1;
        }
        done += (size_t)n;
    }
    memmove(c->out, c->out + done, c->out_len - done);
    c->out_len -= done;
    return 0;
}

static int starts_with(const char *line, size_t len, const char *verb) {
    size_t n = strlen(verb);
    return len >= n && strncasecmp(line, verb, n) == 0;
}

static void command(struct conn *c) {
    const char *l = c->line;
    size_t n = c->line_len;
    if (starts_with(l, n, "EHLO")) {
        reply(c, "250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 0\r\n");
    } else if (starts_with(l, n, "DATA")) {
        reply(c, "354 go ahead\r\n");
        c->mode = DATA;
        c->data_state = 2;
    } else if (starts_with(l, n, "QUIT")) {
        reply(c, "221 bye\r\n");
        c->closing = 1;
    } else {
        reply(c, "250 OK\r\n");
    }
}

/* Feed received bytes through the connection's state machine. */
static void consume(struct conn *c, const char *buf, size_t len) {
    size_t i = 0;
    while (i < len && !c->closing) {
        if (c->mode == DATA) {
            /* states: 0 mid-line, 1 saw CR, 2 line start, 3 line start + '.', 4 + '.' CR */
            for (; i < len; i++) {
                char ch = buf[i];
                int s = c->data_state;
                if (s == 0) {
                    const char *cr = memchr(buf + i, '\r', len - i);
                    if (cr == NULL) { i = len; break; }
                    i = (size_t)(cr - buf);
                    c->data_state = 1;
                } else if (s == 1) {
                    c->data_state = ch == '\n' ? 2 : (ch == '\r' ? 1 : 0);
                } else if (s == 2) {
                    c->data_state = ch == '.' ? 3 : (ch == '\r' ? 1 : 0);
                } else if (s == 3) {
                    c->data_state = ch == '\r' ? 4 : 0;
                } else {
                    if (ch == '\n') {
                        messages++;
                        if (!first_reported) {
                            struct timespec now;
                            clock_gettime(CLOCK_MONOTONIC, &now);
                            printf("first %.6f\n", now.tv_sec + now.tv_nsec / 1e9);
                            fflush(stdout);
                            first_reported = 1;
                        }
                        reply(c, "250 2.0.0 OK queued\r\n");
                        c->mode = COMMAND;
                        c->line_len = 0;
                        i++;
                        break;
                    }
                    c->data_state = ch == '\r' ? 1 : 0;
                }
            }
        } else {
            const char *nl = memchr(buf + i, '\n', len - i);
            size_t end = nl ? (size_t)(nl - buf) : len;
            size_t take = end - i;
            if (c->line_len + take > LINE_MAX_LEN - 1) take = LINE_MAX_LEN - 1 - c->line_len;
            memcpy(c->line + c->line_len, buf + i, take);
            c->line_len += take;
            if (nl == NULL) { i = len; break; }
            i = end + 1;
            while (c->line_len && (c->line[c->line_len - 1] == '\r')) c->line_len--;
            c->line[c->line_len] = '\0';
            command(c);
            c->line_len = 0;
        }
    }
}

static void drop(int epfd, struct conn *c) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((unsigned short)port);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 512) < 0) {
        perror("smtp_sink: bind/listen");
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(lfd, (struct sockaddr *)&addr, &alen);
    printf("port %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    int epfd = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event events[MAX_EVENTS];
    static char buf[262144];

    while (!stop_wanted) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, 200);
        if (report_wanted) { report_wanted = 0; report(); }
        if (reset_wanted) {
            reset_wanted = 0;
            messages = connections = received = 0;
            first_reported = 0;
            printf("reset\n");
            fflush(stdout);
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("smtp_sink: epoll_wait");
            return 1;
        }
        for (int k = 0; k < n; k++) {
            struct conn *c = events[k].data.ptr;
            if (c == NULL) {
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
                    if (fd < 0) break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = calloc(1, sizeof *c);
                    c->fd = fd;
                    c->mode = COMMAND;
                    connections++;
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &cev);
                    reply(c, "220 sink ESMTP\r\n");
                    if (flush_out(c) < 0) drop(epfd, c);
                }
                continue;
            }
            if (events[k].events & EPOLLOUT) {
                if (flush_out(c) < 0) { drop(epfd, c); continue; }
            }
            if (events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                int gone = 0;
                for (;;) {
                    ssize_t got = recv(c->fd, buf, sizeof buf, 0);
                    if (got > 0) {
                        received += (unsigned long long)got;
                        consume(c, buf, (size_t)got);
                        if ((size_t)got < sizeof buf) break;
                        continue;
                    }
                    if (got < 0 && errno == EINTR) continue;
                    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
                    gone = 1;
                    break;
                }
                if (flush_out(c) < 0 || gone || (c->closing && c->out_len == 0)) {
                    drop(epfd, c);
                    continue;
                }
            }
            struct epoll_event mev = {
                .events = EPOLLIN | (c->out_len ? EPOLLOUT : 0), .data.ptr = c};
            epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &mev);
        }
    }
    report();
    return 0;
}
