// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "devres-flush-no-probe-wait": probe registers a devres
 * action that flushes the polling work, then may still fail. When it
 * fails, the flush runs inside really_probe() with the probe counted, but
 * the handler only takes the driver's own mutex and touches registers: it
 * never waits for probes, so the flush always finishes. No finding.
 */
#include <linux/platform_device.h>
#include <linux/workqueue.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/io.h>
#include "fan-ctl.h"

static void fan_ctl_poll_work(struct work_struct *work)
{
	struct fan_ctl *fc = container_of(work, struct fan_ctl, poll_work);
	u32 tach;

	tach = readl(fc->base + FAN_CTL_TACH);

	mutex_lock(&fc->lock);
	fc->rpm = tach * 30;
	if (fc->rpm < 500 && fc->pwm < 255) {
		fc->pwm++;
		writel(fc->pwm, fc->base + FAN_CTL_PWM);
	}
	mutex_unlock(&fc->lock);
}

static void fan_ctl_stop_poll(void *data)
{
	struct fan_ctl *fc = data;

	flush_work(&fc->poll_work);
}

static int fan_ctl_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct fan_ctl *fc;
	int ret;

	fc = devm_kzalloc(dev, sizeof(*fc), GFP_KERNEL);
	if (!fc)
		return -ENOMEM;

	fc->dev = dev;
	fc->base = devm_platform_ioremap_resource(pdev, 0);
	if (IS_ERR(fc->base))
		return PTR_ERR(fc->base);

	mutex_init(&fc->lock);
	INIT_WORK(&fc->poll_work, fan_ctl_poll_work);

	ret = devm_add_action_or_reset(dev, fan_ctl_stop_poll, fc);
	if (ret)
		return ret;

	/* take a first reading while we check the chip */
	schedule_work(&fc->poll_work);

	if (readl(fc->base + FAN_CTL_ID) != FAN_CTL_ID_VALUE) {
		ret = -ENODEV;
		goto err_id;
	}

	platform_set_drvdata(pdev, fc);
	return 0;

err_id:
	dev_err(dev, "unknown fan controller\n");
	return ret;
}

static struct platform_driver fan_ctl_driver = {
	.probe = fan_ctl_probe,
	.driver = {
		.name = "fan-ctl",
	},
};
module_platform_driver(fan_ctl_driver);

MODULE_DESCRIPTION("fixture: fan controller with a devres-flushed poll work");
MODULE_LICENSE("GPL");
