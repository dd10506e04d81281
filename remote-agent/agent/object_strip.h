/* SPDX-License-Identifier: MIT */
/* The copy of a compiled object the client gets back, without its DWARF. */
#ifndef EBPF_AGENT_OBJECT_STRIP_H
#define EBPF_AGENT_OBJECT_STRIP_H

#include <stddef.h>

/* A malloc'ed copy of the ELF relocatable @elf whose .debug_* sections (and their relocation
 * sections) are empty SHT_NOBITS: every section keeps its index, so symbols and relocations stay
 * valid, and .BTF/.BTF.ext (what the client reads, and what libbpf loads) are untouched. clang -g
 * writes DWARF beside BTF, and for a program that touches task_struct it is ~95% of the object
 * (640 KB of 670 KB), which the agent would otherwise send through JSON and SSH on every save.
 * Returns 0, or a negative errno for an ELF this does not handle (the caller sends @elf as is). */
int object_strip_dwarf(const void *elf, size_t size, void **out, size_t *out_size);

#endif
