// SPDX-License-Identifier: GPL-2.0
/*
 * A barrier: under its mutex, it counts callbacks down and completes the
 * completion itself when the count hits zero, then waits for it. The
 * function that completes is the waiter: what it took before complete()
 * (the mutex) it holds as the waiter, so there is no second task that
 * needs it. The callbacks complete without the mutex.
 */
#include <linux/mutex.h>
#include <linux/completion.h>
#include <linux/atomic.h>

struct bar_state {
	struct mutex barrier_mutex;
	struct completion barrier_completion;
	atomic_t count;
};

static struct bar_state bar;

static void bar_callback(void *unused)
{
	if (atomic_dec_and_test(&bar.count))
		complete(&bar.barrier_completion);
}

void bar_barrier(void)
{
	mutex_lock(&bar.barrier_mutex);
	init_completion(&bar.barrier_completion);
	atomic_set(&bar.count, 2);
	bar_post_callbacks(bar_callback);
	if (atomic_dec_and_test(&bar.count))
		complete(&bar.barrier_completion);
	wait_for_completion(&bar.barrier_completion);
	mutex_unlock(&bar.barrier_mutex);
}
