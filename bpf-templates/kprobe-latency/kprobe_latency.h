/* What kprobe_latency.bpf.c and its loader share: the function, and the histogram's shape. */
#ifndef KPROBE_LATENCY_H
#define KPROBE_LATENCY_H

#define FUNCTION_NAME "{{function}}"
/* Slot i counts the calls that took [2^i, 2^(i+1)) nanoseconds (slot 0: under 2 ns). */
#define HIST_SLOTS 64

#endif /* KPROBE_LATENCY_H */
