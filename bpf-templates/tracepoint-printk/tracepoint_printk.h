/* What tracepoint_printk.bpf.c and its loader share: the tracepoint, as the loader prints it. */
#ifndef TRACEPOINT_PRINTK_H
#define TRACEPOINT_PRINTK_H

#define TRACEPOINT_NAME "{{tracepoint}}"

#endif /* TRACEPOINT_PRINTK_H */
