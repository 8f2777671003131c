// SPDX-License-Identifier: GPL-2.0
/*
 * Work handlers that reach a cancel_*_sync() of their own work through a
 * helper, but pass the parameter value that skips it: a flag (the helper
 * only does the non-sync cancel when called from the handler) and an event
 * code (the helper cancels only on the kickoff event).
 */
#include <linux/workqueue.h>
#include <linux/slab.h>

struct conn {
	struct delayed_work reconnect;
	struct delayed_work off_work;
	int refs;
};

enum conn_event {
	CONN_EV_KICKOFF,
	CONN_EV_IDLE,
};

static void conn_put(struct conn *c, bool from_reconnect)
{
	if (--c->refs)
		return;
	if (from_reconnect)
		cancel_delayed_work(&c->reconnect);
	else
		cancel_delayed_work_sync(&c->reconnect);
	kfree(c);
}

static void conn_control(struct conn *c, enum conn_event ev)
{
	switch (ev) {
	case CONN_EV_KICKOFF:
		cancel_delayed_work_sync(&c->off_work);
		break;
	case CONN_EV_IDLE:
		c->refs--;
		break;
	}
}

static void conn_reconnect_work(struct work_struct *work)
{
	struct conn *c = container_of(work, struct conn, reconnect.work);

	conn_put(c, true);
}

static void conn_off_work(struct work_struct *work)
{
	struct conn *c = container_of(work, struct conn, off_work.work);

	conn_control(c, CONN_EV_IDLE);
}

void conn_kick(struct conn *c)
{
	conn_control(c, CONN_EV_KICKOFF);
	schedule_delayed_work(&c->off_work, HZ);
}

void conn_release(struct conn *c)
{
	conn_put(c, false);
}

struct conn *conn_alloc(void)
{
	struct conn *c = kzalloc(sizeof(*c), GFP_KERNEL);

	if (!c)
		return NULL;
	c->refs = 1;
	INIT_DELAYED_WORK(&c->reconnect, conn_reconnect_work);
	INIT_DELAYED_WORK(&c->off_work, conn_off_work);
	schedule_delayed_work(&c->reconnect, HZ);
	return c;
}
