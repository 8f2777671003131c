// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "self-cancel": bring-up and teardown of the engine.
 * Teardown stops both works synchronously, which is right from .remove
 * but not from the recovery work itself: cancel_work_sync() on the work
 * that is running it waits for itself forever.
 */
#include <linux/workqueue.h>
#include <linux/device.h>
#include <linux/io.h>
#include "eng.h"

int eng_hw_init(struct eng_priv *priv)
{
	writel(ENG_CTRL_RUN | ENG_CTRL_IRQ_EN, priv->regs + ENG_CTRL);
	if (!(readl(priv->regs + ENG_CTRL) & ENG_CTRL_RUN))
		return -EIO;

	priv->last_beat = readl(priv->regs + ENG_HEARTBEAT);
	schedule_delayed_work(&priv->watchdog_work, HZ);
	return 0;
}

void eng_hw_teardown(struct eng_priv *priv)
{
	cancel_work_sync(&priv->recover_work);
	cancel_delayed_work_sync(&priv->watchdog_work);

	writel(0, priv->regs + ENG_CTRL);
}
