/* What ksyscall.bpf.c and its loader share: the syscall, as the loader prints it. */
#ifndef KSYSCALL_H
#define KSYSCALL_H

#define SYSCALL_NAME "{{syscall}}"

#endif /* KSYSCALL_H */
