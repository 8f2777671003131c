// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "handler-lock-own-cancel-guarded": a listening socket
 * hands each new connection to a setup work. The work locks the new
 * connection and, on failure, releases it through the same helper that
 * close() uses. The helper cancels the setup work unless it is the caller
 * (the smc shape): under the lock, the handler never waits for itself.
 */
#include <linux/workqueue.h>
#include <linux/mutex.h>
#include <linux/slab.h>

struct lsk_conn {
	struct mutex lock;
	struct work_struct setup_work;
	bool listening;
	int state;
};

static int lsk_handshake(struct lsk_conn *c)
{
	return c->state ? 0 : -EAGAIN;
}

static void lsk_release(struct lsk_conn *c)
{
	if (c->listening && current_work() != &c->setup_work)
		cancel_work_sync(&c->setup_work);
	c->state = 0;
}

static void lsk_setup_work(struct work_struct *work)
{
	struct lsk_conn *c = container_of(work, struct lsk_conn, setup_work);

	mutex_lock(&c->lock);
	if (lsk_handshake(c))
		lsk_release(c);
	mutex_unlock(&c->lock);
}

void lsk_accept(struct lsk_conn *c)
{
	INIT_WORK(&c->setup_work, lsk_setup_work);
	c->listening = true;
	schedule_work(&c->setup_work);
}

void lsk_close(struct lsk_conn *c)
{
	lsk_release(c);
	kfree(c);
}
