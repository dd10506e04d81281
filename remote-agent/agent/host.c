// SPDX-License-Identifier: MIT
/* host.programs, host.maps (everything loaded on the host, like `bpftool prog/map list`, with
 * ours marked), host.interfaces (the network interfaces to offer as attach targets) and
 * btf.vmlinux (the kernel's raw BTF for the language server). */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_link.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "base64.h"
#include "vmlinux_cache.h"
#include "workdir.h"

#define MAX_MAP_IDS 64
/* Each XDP query is a netlink dump of every link, so N interfaces cost N^2 link messages; past this
 * many interfaces (container hosts with thousands of veths) xdpAttached is reported as unknown. */
#define MAX_XDP_QUERIES 64

static __u32 fd_object_id(int fd, bool is_map)
{
	struct bpf_prog_info pinfo = { 0 };
	struct bpf_map_info minfo = { 0 };
	__u32 len = is_map ? sizeof(minfo) : sizeof(pinfo);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, is_map ? (void *)&minfo : (void *)&pinfo, &len))
		return 0;
	return is_map ? minfo.id : pinfo.id;
}

/* Whether @id is a program (or map) of one of our loaded objects. */
static bool is_ours(struct agent *a, __u32 id, bool is_map)
{
	for (int i = 0; i < OBJECT_TABLE_SLOTS; i++) {
		struct bpf_object *obj = a->objects.slots[i].loaded;
		struct bpf_program *prog;
		struct bpf_map *map;

		if (!a->objects.slots[i].id[0] || !obj)
			continue;
		if (is_map) {
			bpf_object__for_each_map(map, obj)
				if (fd_object_id(bpf_map__fd(map), true) == id)
					return true;
		} else {
			bpf_object__for_each_program(prog, obj)
				if (fd_object_id(bpf_program__fd(prog), false) == id)
					return true;
		}
	}
	return false;
}

static bool stats_enabled(void)
{
	char c = '0';
	FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "r");

	if (f) {
		if (fread(&c, 1, 1, f) != 1)
			c = '0';
		fclose(f);
	}
	return c == '1';
}

/* Seconds since the epoch of the boot: load_time is in boot-clock nanoseconds. */
static double boot_epoch(void)
{
	struct timespec real, boot;

	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	return (real.tv_sec - boot.tv_sec) + (real.tv_nsec - boot.tv_nsec) / 1e9;
}

static struct json_object *program_json(struct agent *a, int fd, bool stats, double epoch)
{
	__u32 map_ids[MAX_MAP_IDS];
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	struct json_object *o, *maps;
	const char *type;
	char tag[BPF_TAG_SIZE * 2 + 1];

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return NULL;
	if (info.nr_map_ids) {
		__u32 n = info.nr_map_ids < MAX_MAP_IDS ? info.nr_map_ids : MAX_MAP_IDS;

		memset(&info, 0, sizeof(info));
		info.nr_map_ids = n;
		info.map_ids = (__u64)(unsigned long)map_ids;
		len = sizeof(info);
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			return NULL;
		if (info.nr_map_ids > n)
			info.nr_map_ids = n;
	}
	for (int i = 0; i < BPF_TAG_SIZE; i++)
		snprintf(tag + 2 * i, 3, "%02x", info.tag[i]);
	type = libbpf_bpf_prog_type_str(info.type);
	maps = json_object_new_array();
	for (__u32 i = 0; i < info.nr_map_ids; i++)
		json_object_array_add(maps, json_object_new_int64(map_ids[i]));
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(info.id));
	json_object_object_add(o, "name", json_object_new_string(info.name));
	json_object_object_add(o, "type", json_object_new_string(type ? type : "unknown"));
	json_object_object_add(o, "tag", json_object_new_string(tag));
	json_object_object_add(o, "ours", json_object_new_boolean(is_ours(a, info.id, false)));
	json_object_object_add(o, "mapIds", maps);
	json_object_object_add(o, "loadTime", json_object_new_int64((long long)(epoch + info.load_time / 1e9)));
	json_object_object_add(o, "uid", json_object_new_int64(info.created_by_uid));
	json_object_object_add(o, "runCount", stats ? json_object_new_int64(info.run_cnt) : NULL);
	json_object_object_add(o, "runTimeNs", stats ? json_object_new_int64(info.run_time_ns) : NULL);
	return o;
}

static struct json_object *map_json(struct agent *a, int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	struct json_object *o;
	const char *type;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return NULL;
	type = libbpf_bpf_map_type_str(info.type);
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(info.id));
	json_object_object_add(o, "name", json_object_new_string(info.name));
	json_object_object_add(o, "type", json_object_new_string(type ? type : "unknown"));
	json_object_object_add(o, "keySize", json_object_new_int64(info.key_size));
	json_object_object_add(o, "valueSize", json_object_new_int64(info.value_size));
	json_object_object_add(o, "maxEntries", json_object_new_int64(info.max_entries));
	json_object_object_add(o, "ours", json_object_new_boolean(is_ours(a, info.id, true)));
	return o;
}

/* Walks every id; an id whose object vanished between next_id and get_fd is skipped. */
static int list_all(struct agent *a, bool maps, struct json_object *list)
{
	bool stats = !maps && stats_enabled();
	double epoch = boot_epoch();
	__u32 id = 0;

	for (;;) {
		struct json_object *o;
		int fd;

		if ((maps ? bpf_map_get_next_id(id, &id) : bpf_prog_get_next_id(id, &id)))
			return errno == ENOENT ? 0 : -errno;
		fd = maps ? bpf_map_get_fd_by_id(id) : bpf_prog_get_fd_by_id(id);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		o = maps ? map_json(a, fd) : program_json(a, fd, stats, epoch);
		close(fd);
		if (o)
			json_object_array_add(list, o);
	}
}

static void host_list(struct agent *a, bool maps, struct rpc_reply *r)
{
	struct json_object *list = json_object_new_array();
	int err = list_all(a, maps, list);

	if (err) {
		json_object_put(list);
		if (err == -EPERM)
			rpc_reply_error(r, RPC_PERMISSION_DENIED, "Listing BPF %s needs root (CAP_SYS_ADMIN); the agent runs "
					"as uid %u.", maps ? "maps" : "programs", geteuid());
		else
			rpc_reply_error(r, RPC_INTERNAL_ERROR, "Listing BPF %s failed: %s.", maps ? "maps" : "programs",
					strerror(-err));
		return;
	}
	r->result = json_object_new_object();
	json_object_object_add(r->result, maps ? "maps" : "programs", list);
}

void method_host_programs(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	(void)params;
	host_list(a, false, r);
}

void method_host_maps(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	(void)params;
	host_list(a, true, r);
}

/* 1 when some XDP program is attached to @ifindex, 0 when none, -errno when netlink cannot tell. */
static int xdp_attached(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, opts);
	int err = bpf_xdp_query(ifindex, 0, &opts);

	if (err)
		return err < 0 ? err : -EIO;
	return opts.attach_mode != XDP_ATTACHED_NONE;
}

/* The interface's entry, NULL when it vanished since if_nameindex(); -errno in @err otherwise. */
static struct json_object *interface_json(int sock, const struct if_nameindex *ni, bool query_xdp, int *err)
{
	struct ifreq ifr = { 0 };
	struct json_object *o;
	int xdp = -EAGAIN;

	*err = 0;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ni->if_name);
	if (ioctl(sock, SIOCGIFFLAGS, &ifr)) {
		*err = errno == ENODEV ? 0 : -errno;
		return NULL;
	}
	if (query_xdp)
		xdp = xdp_attached((int)ni->if_index);
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(ni->if_name));
	json_object_object_add(o, "ifindex", json_object_new_int64(ni->if_index));
	json_object_object_add(o, "up", json_object_new_boolean(!!(ifr.ifr_flags & IFF_UP)));
	json_object_object_add(o, "xdpAttached", xdp < 0 ? NULL : json_object_new_boolean(xdp));
	return o;
}

static int list_interfaces(struct json_object *list)
{
	struct if_nameindex *all = if_nameindex();
	int sock, err = 0, count = 0;

	if (!all)
		return -errno;
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		err = -errno;
		if_freenameindex(all);
		return err;
	}
	for (const struct if_nameindex *ni = all; ni->if_index && !err; ni++) {
		struct json_object *o = interface_json(sock, ni, count < MAX_XDP_QUERIES, &err);

		if (o) {
			json_object_array_add(list, o);
			count++;
		}
	}
	close(sock);
	if_freenameindex(all);
	return err;
}

void method_host_interfaces(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	struct json_object *list = json_object_new_array();
	int err;

	(void)a;
	(void)params;
	err = list_interfaces(list);
	if (err) {
		json_object_put(list);
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "Listing the network interfaces failed: %s.", strerror(-err));
		return;
	}
	r->result = json_object_new_object();
	json_object_object_add(r->result, "interfaces", list);
}

void method_btf_vmlinux(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	char btf_id[BTF_ID_LEN + 1], *text;
	void *data;
	size_t len;
	int err;

	(void)a;
	(void)params;
	err = vmlinux_btf_id(btf_id);
	if (!err)
		err = read_whole_file(VMLINUX_BTF_PATH, 256u << 20, &data, &len);
	if (err) {
		rpc_reply_error(r, RPC_NO_BTF, "This kernel has no readable BTF at %s (%s); it needs CONFIG_DEBUG_INFO_BTF.",
				VMLINUX_BTF_PATH, strerror(-err));
		return;
	}
	text = base64_encode(data, len);
	free(data);
	if (!text) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "The agent ran out of memory.");
		return;
	}
	r->result = json_object_new_object();
	json_object_object_add(r->result, "btfId", json_object_new_string(btf_id));
	json_object_object_add(r->result, "data", json_object_new_string(text));
	free(text);
}
