// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "completion-completer-holds": a self-test pauses the
 * idle machinery (taking its lock), starts its test threads, then waits
 * for them under that lock. The threads wait for the start signal before
 * they finish; the start signal is given by the tester itself after it
 * took the lock (the psci checker shape). The completer already holds the
 * lock it "waits" for: no deadlock.
 */
#include <linux/completion.h>
#include <linux/mutex.h>
#include <linux/kthread.h>

static DEFINE_MUTEX(idle_lock);
static DECLARE_COMPLETION(threads_started);
static DECLARE_COMPLETION(threads_done);

static int selftest_thread(void *arg)
{
	wait_for_completion(&threads_started);
	/* ... run the test on this CPU ... */
	complete(&threads_done);
	return 0;
}

int selftest_run(void)
{
	struct task_struct *t;

	mutex_lock(&idle_lock);
	t = kthread_run(selftest_thread, NULL, "selftest");
	if (IS_ERR(t)) {
		mutex_unlock(&idle_lock);
		return PTR_ERR(t);
	}
	complete_all(&threads_started);
	wait_for_completion(&threads_done);
	mutex_unlock(&idle_lock);
	return 0;
}
