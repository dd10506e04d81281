// SPDX-License-Identifier: MIT
/* Non-blocking stdout with one growable buffer; see outbuf.h for the policy. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "outbuf.h"

static struct {
	char *buf;
	size_t head;	/* first unsent byte */
	size_t len;	/* end of queued bytes */
	size_t cap;
	int err;	/* sticky -errno once stdout failed */
	bool held;	/* the client's link is down: write nothing */
} out;

int outbuf_init(void)
{
	int flags = fcntl(STDOUT_FILENO, F_GETFL);

	if (flags < 0 || fcntl(STDOUT_FILENO, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

char *outbuf_reserve(size_t len)
{
	size_t cap;
	char *buf;

	if (out.head && out.head == out.len)
		out.head = out.len = 0;
	if (out.cap - out.len >= len)
		return out.buf + out.len;
	if (out.head) {	/* compact before growing */
		memmove(out.buf, out.buf + out.head, out.len - out.head);
		out.len -= out.head;
		out.head = 0;
		if (out.cap - out.len >= len)
			return out.buf + out.len;
	}
	cap = out.cap ? out.cap : 64u << 10;
	while (cap - out.len < len)
		cap *= 2;
	buf = realloc(out.buf, cap);
	if (!buf)
		return NULL;
	out.buf = buf;
	out.cap = cap;
	return out.buf + out.len;
}

void outbuf_commit(size_t len)
{
	out.len += len;
}

int outbuf_append(const void *data, size_t len)
{
	char *dst;

	if (out.err)
		return out.err;
	dst = outbuf_reserve(len);
	if (!dst)
		return -ENOMEM;
	memcpy(dst, data, len);
	outbuf_commit(len);
	return 0;
}

int outbuf_flush(void)
{
	while (!out.held && !out.err && out.head < out.len) {
		ssize_t n = write(STDOUT_FILENO, out.buf + out.head, out.len - out.head);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			out.err = -errno;
			break;
		}
		out.head += n;
	}
	if (out.head == out.len)
		out.head = out.len = 0;
	return out.err;
}

size_t outbuf_pending(void)
{
	return out.len - out.head;
}

bool outbuf_has_room(void)
{
	return !out.held && !out.err && outbuf_pending() < OUTBUF_HIGH_WATER;
}

void outbuf_hold(bool held)
{
	out.held = held;
}

void outbuf_discard(void)
{
	out.head = out.len = 0;
	out.err = 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void outbuf_drain(int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	struct pollfd pfd = { .fd = STDOUT_FILENO, .events = POLLOUT };

	if (out.held)
		return;	/* no client to write to */
	while (!outbuf_flush() && outbuf_pending()) {
		long long left = deadline - now_ms();

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
	}
}

void outbuf_free(void)
{
	free(out.buf);
	memset(&out, 0, sizeof(out));
}
