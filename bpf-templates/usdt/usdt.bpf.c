// SPDX-License-Identifier: GPL-2.0
/*
 * A USDT probe: a marker a program or library was built with (<sys/sdt.h>'s DTRACE_PROBE), here
 * {{usdt}} in {{binary}}. Each time a process passes it, the program sends the probe's arguments
 * through a ring buffer. libbpf reads where each argument lives (register, stack, constant) from
 * the probe's ELF note, and bpf_usdt_arg fetches it: no debug info or offsets needed.
 * List a binary's probes with `readelf -n BINARY` (the stapsdt notes).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>
#include "usdt.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/*
 * With a fixed probe, name its arguments instead, e.g. for libstdcxx:throw (the thrown object
 * and its std::type_info): int BPF_USDT(on_probe, void *object, void *type_info).
 */
SEC("usdt/{{binary}}:{{usdt}}")
int BPF_USDT(on_probe)
{
	struct usdt_event *e;
	long value;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->nr_args = bpf_usdt_arg_cnt(ctx);
	for (int i = 0; i < MAX_ARGS; i++)
		e->args[i] = bpf_usdt_arg(ctx, i, &value) ? 0 : value; /* 0: the probe has fewer arguments */
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
