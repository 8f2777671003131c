// SPDX-License-Identifier: GPL-2.0
#include <linux/mutex.h>
#include <linux/workqueue.h>

extern struct mutex toy_lock;

static void toy_work_fn(struct work_struct *work)
{
	mutex_lock(&toy_lock);
	pr_info("toy work ran\n");
	mutex_unlock(&toy_lock);
}

static DECLARE_WORK(toy_work, toy_work_fn);

void toy_kick(void)
{
	schedule_work(&toy_work);
}

void toy_stop(void)
{
	cancel_work_sync(&toy_work);
}
