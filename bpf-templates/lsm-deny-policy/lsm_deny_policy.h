/* What lsm_deny_policy.bpf.c and its loader share: the policy key and the audit event. */
#ifndef LSM_DENY_POLICY_H
#define LSM_DENY_POLICY_H

#define TASK_COMM_LEN 16
#define NAME_LEN 64	/* longer basenames are compared on their first 63 bytes */

/* A key of the deny policy: a file's basename, NUL-padded (the whole array is the hash key). */
struct policy_name {
	char name[NAME_LEN];
};

/* One denied open, sent to the audit ring buffer. */
struct audit_event {
	__u32 pid;
	__u32 uid;
	char comm[TASK_COMM_LEN];
	char name[NAME_LEN];
};

#endif /* LSM_DENY_POLICY_H */
