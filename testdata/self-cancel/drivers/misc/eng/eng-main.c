// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "self-cancel": the watchdog notices a stalled
 * firmware and queues recovery; the recovery handler restarts the engine
 * through the same teardown helper that .remove uses.
 */
#include <linux/platform_device.h>
#include <linux/workqueue.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/io.h>
#include "eng.h"

static void eng_watchdog_work(struct work_struct *work)
{
	struct eng_priv *priv = container_of(to_delayed_work(work),
					     struct eng_priv, watchdog_work);
	u32 beat = readl(priv->regs + ENG_HEARTBEAT);

	if (beat == priv->last_beat) {
		dev_warn(priv->dev, "firmware stalled, recovering\n");
		schedule_work(&priv->recover_work);
		return;
	}

	priv->last_beat = beat;
	schedule_delayed_work(&priv->watchdog_work, HZ);
}

static void eng_recover_work(struct work_struct *work)
{
	struct eng_priv *priv = container_of(work, struct eng_priv, recover_work);

	priv->resets++;
	eng_hw_teardown(priv);

	if (eng_hw_init(priv))
		dev_err(priv->dev, "recovery %u failed\n", priv->resets);
}

static int eng_probe(struct platform_device *pdev)
{
	struct eng_priv *priv;
	int ret;

	priv = devm_kzalloc(&pdev->dev, sizeof(*priv), GFP_KERNEL);
	if (!priv)
		return -ENOMEM;

	priv->dev = &pdev->dev;
	priv->regs = devm_platform_ioremap_resource(pdev, 0);
	if (IS_ERR(priv->regs))
		return PTR_ERR(priv->regs);

	INIT_WORK(&priv->recover_work, eng_recover_work);
	INIT_DELAYED_WORK(&priv->watchdog_work, eng_watchdog_work);

	ret = eng_hw_init(priv);
	if (ret)
		goto err_teardown;

	platform_set_drvdata(pdev, priv);
	return 0;

err_teardown:
	eng_hw_teardown(priv);
	return ret;
}

static void eng_remove(struct platform_device *pdev)
{
	struct eng_priv *priv = platform_get_drvdata(pdev);

	eng_hw_teardown(priv);
}

static struct platform_driver eng_driver = {
	.probe = eng_probe,
	.remove = eng_remove,
	.driver = {
		.name = "offload-eng",
	},
};
module_platform_driver(eng_driver);

MODULE_DESCRIPTION("fixture: engine whose recovery work cancels itself");
MODULE_LICENSE("GPL");
