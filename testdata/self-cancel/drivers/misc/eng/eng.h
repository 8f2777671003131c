/* SPDX-License-Identifier: GPL-2.0 */
/*
 * waitcheck fixture "self-cancel": an offload engine with a firmware
 * watchdog and a recovery work.
 */
#ifndef _ENG_H
#define _ENG_H

#include <linux/platform_device.h>
#include <linux/workqueue.h>

#define ENG_CTRL		0x00
#define ENG_HEARTBEAT		0x04
#define ENG_CTRL_RUN		BIT(0)
#define ENG_CTRL_IRQ_EN		BIT(1)

struct eng_priv {
	struct device *dev;
	void __iomem *regs;
	struct work_struct recover_work;
	struct delayed_work watchdog_work;
	u32 last_beat;
	unsigned int resets;
};

/* eng-hw.c */
int eng_hw_init(struct eng_priv *priv);
void eng_hw_teardown(struct eng_priv *priv);

#endif /* _ENG_H */
