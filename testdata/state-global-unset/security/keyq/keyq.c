// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "state-global-unset": keys that arrive
 * before the policy is loaded are queued, and a delayed work drops them
 * if the policy never comes. The drain helper cancels that work unless
 * the timer expired, but the work calls the helper before it marks the
 * timer expired: it waits for itself.
 */
#include <linux/workqueue.h>
#include <linux/mutex.h>
#include <linux/list.h>

static bool keyq_timer_expired;
static LIST_HEAD(keyq_list);
static DEFINE_MUTEX(keyq_lock);

static void keyq_timeout(struct work_struct *work);
static DECLARE_DELAYED_WORK(keyq_work, keyq_timeout);

void keyq_drain(void)
{
	if (!keyq_timer_expired)
		cancel_delayed_work_sync(&keyq_work);

	mutex_lock(&keyq_lock);
	INIT_LIST_HEAD(&keyq_list);
	mutex_unlock(&keyq_lock);
}

static void keyq_timeout(struct work_struct *work)
{
	keyq_drain();
	keyq_timer_expired = true;
}

void keyq_init(void)
{
	schedule_delayed_work(&keyq_work, 300 * HZ);
}
