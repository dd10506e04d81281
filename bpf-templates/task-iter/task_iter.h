/* What task_iter.bpf.c and its loader share: the header line the iterator prints first. */
#ifndef TASK_ITER_H
#define TASK_ITER_H

#define TASK_ITER_HEADER "    TGID      TID     PPID COMM\n"

#endif /* TASK_ITER_H */
