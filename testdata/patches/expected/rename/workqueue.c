// SPDX-License-Identifier: GPL-2.0
#include <linux/workqueue.h>

static void toy_work_fn(struct work_struct *work)
{
	pr_info("toy work ran on %d\n", smp_processor_id());
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
