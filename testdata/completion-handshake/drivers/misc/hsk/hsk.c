// SPDX-License-Identifier: GPL-2.0
/*
 * A producer/consumer handshake on two completions: the producer posts an
 * item and waits for the consumer to take it; the consumer waits for an
 * item and acknowledges it. Each completes what the other waits for; the
 * counts of complete() calls decide progress, which waitcheck does not
 * model, so a cycle of completions alone is not reported.
 */
#include <linux/completion.h>

struct hsk {
	struct completion insert_event;
	struct completion remove_event;
	int slot;
};

int hsk_post(struct hsk *h, int item)
{
	if (wait_for_completion_interruptible(&h->remove_event))
		return -EINTR;
	h->slot = item;
	complete(&h->insert_event);
	return 0;
}

int hsk_take(struct hsk *h)
{
	int item;

	if (wait_for_completion_interruptible(&h->insert_event))
		return -EINTR;
	item = h->slot;
	complete(&h->remove_event);
	return item;
}
