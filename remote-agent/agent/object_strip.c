// SPDX-License-Identifier: MIT
/* Dropping DWARF from a compiled object (see object_strip.h). Plain ELF64 walking with bounds
 * checks: the input is clang's output, but the agent checks what it reads all the same. */
#include <elf.h>
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "object_strip.h"

#if __BYTE_ORDER == __LITTLE_ENDIAN
#define NATIVE_ELFDATA ELFDATA2LSB
#else
#define NATIVE_ELFDATA ELFDATA2MSB
#endif

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_dwarf(const char *name)
{
	return starts_with(name, ".debug_") || starts_with(name, ".rel.debug_") ||
	       starts_with(name, ".rela.debug_");
}

/* The section's name, or NULL when it does not lie inside the section-name table. */
static const char *section_name(const char *elf, const Elf64_Shdr *strtab, Elf64_Word offset)
{
	const char *names = elf + strtab->sh_offset;

	if (offset >= strtab->sh_size || !memchr(names + offset, '\0', strtab->sh_size - offset))
		return NULL;
	return names + offset;
}

static bool within(size_t size, uint64_t offset, uint64_t len)
{
	return offset <= size && len <= size - offset;
}

static uint64_t align_up(uint64_t value, uint64_t align)
{
	return align > 1 ? (value + align - 1) / align * align : value;
}

int object_strip_dwarf(const void *elf, size_t size, void **out, size_t *out_size)
{
	const char *in = elf;
	const Elf64_Ehdr *eh = elf;
	const Elf64_Shdr *shdrs, *strtab;
	Elf64_Shdr *new_shdrs;
	Elf64_Ehdr *new_eh;
	uint64_t offset;
	char *copy;

	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != NATIVE_ELFDATA ||
	    eh->e_type != ET_REL || eh->e_phnum != 0 || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    eh->e_shnum == 0 || eh->e_shstrndx == SHN_UNDEF || eh->e_shstrndx >= eh->e_shnum || eh->e_shoff % 8 ||
	    !within(size, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr)))
		return -ENOTSUP;
	shdrs = (const Elf64_Shdr *)(in + eh->e_shoff);
	strtab = &shdrs[eh->e_shstrndx];
	if (strtab->sh_type != SHT_STRTAB || !within(size, strtab->sh_offset, strtab->sh_size))
		return -ENOTSUP;
	for (int i = 0; i < eh->e_shnum; i++) {
		if (!section_name(in, strtab, shdrs[i].sh_name) ||
		    (shdrs[i].sh_type != SHT_NOBITS && !within(size, shdrs[i].sh_offset, shdrs[i].sh_size)))
			return -ENOTSUP;
	}
	new_shdrs = malloc((size_t)eh->e_shnum * sizeof(Elf64_Shdr));
	if (!new_shdrs)
		return -ENOMEM;
	memcpy(new_shdrs, shdrs, (size_t)eh->e_shnum * sizeof(Elf64_Shdr));
	/* First the new layout: the kept sections packed in index order, DWARF sections emptied. */
	offset = sizeof(*eh);
	for (int i = 1; i < eh->e_shnum; i++) {
		Elf64_Shdr *sh = &new_shdrs[i];

		if (is_dwarf(section_name(in, strtab, sh->sh_name))) {
			sh->sh_type = SHT_NOBITS;
			sh->sh_size = 0;
			sh->sh_offset = offset;
		} else if (sh->sh_type != SHT_NOBITS) {
			offset = align_up(offset, sh->sh_addralign > 4096 ? 4096 : sh->sh_addralign);
			sh->sh_offset = offset;
			offset += sh->sh_size;
		}
	}
	offset = align_up(offset, 8);
	*out_size = offset + (size_t)eh->e_shnum * sizeof(Elf64_Shdr);
	copy = calloc(1, *out_size);
	if (!copy) {
		free(new_shdrs);
		return -ENOMEM;
	}
	memcpy(copy, eh, sizeof(*eh));
	for (int i = 1; i < eh->e_shnum; i++) {
		if (new_shdrs[i].sh_type != SHT_NOBITS)
			memcpy(copy + new_shdrs[i].sh_offset, in + shdrs[i].sh_offset, shdrs[i].sh_size);
	}
	memcpy(copy + offset, new_shdrs, (size_t)eh->e_shnum * sizeof(Elf64_Shdr));
	free(new_shdrs);
	new_eh = (Elf64_Ehdr *)copy;
	new_eh->e_shoff = offset;
	*out = copy;
	return 0;
}
