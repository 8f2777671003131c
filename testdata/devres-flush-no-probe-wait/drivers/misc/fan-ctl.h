/* SPDX-License-Identifier: GPL-2.0 */
/*
 * waitcheck fixture "devres-flush-no-probe-wait": a fan controller whose
 * probe hands the teardown of its polling work to devres.
 */
#ifndef _FAN_CTL_H
#define _FAN_CTL_H

#include <linux/platform_device.h>
#include <linux/workqueue.h>
#include <linux/mutex.h>

#define FAN_CTL_ID		0x00
#define FAN_CTL_TACH		0x04
#define FAN_CTL_PWM		0x08
#define FAN_CTL_ID_VALUE	0x46414e31

struct fan_ctl {
	struct device *dev;
	void __iomem *base;
	struct mutex lock;		/* protects rpm and pwm */
	struct work_struct poll_work;
	u32 rpm;
	u32 pwm;
};

#endif /* _FAN_CTL_H */
