/* What uprobe_readline.bpf.c and its loader share: the probed function, and the event per line read. */
#ifndef UPROBE_READLINE_H
#define UPROBE_READLINE_H

#define BINARY_PATH "{{binary}}"
#define SYMBOL_NAME "{{symbol}}"
#define TASK_COMM_LEN 16
#define PROMPT_LEN 64
#define LINE_LEN 256

struct line_event {
	int pid;
	char comm[TASK_COMM_LEN];
	/* The prompt the function was called with (its first argument, a string). */
	char prompt[PROMPT_LEN];
	/* The line it returned (a string), empty when it returned NULL (end of input). */
	char line[LINE_LEN];
};

#endif /* UPROBE_READLINE_H */
