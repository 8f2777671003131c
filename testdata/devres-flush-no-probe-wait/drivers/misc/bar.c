// SPDX-License-Identifier: GPL-2.0
/* waitcheck fixture: a devres action flushes a work that never waits for probes. */
#include <linux/platform_device.h>
#include <linux/workqueue.h>
#include <linux/mutex.h>
#include <linux/io.h>

struct bar_priv {
	struct mutex lock;
	void __iomem *regs;
	struct work_struct poll_work;
};

static void bar_poll(struct work_struct *work)
{
	struct bar_priv *priv = container_of(work, struct bar_priv, poll_work);

	mutex_lock(&priv->lock);
	writel(1, priv->regs);
	mutex_unlock(&priv->lock);
}

static void bar_stop_poll(void *data)
{
	struct bar_priv *priv = data;

	flush_work(&priv->poll_work);
}

static int bar_probe(struct platform_device *pdev)
{
	struct bar_priv *priv;
	int ret;

	priv = devm_kzalloc(&pdev->dev, sizeof(*priv), GFP_KERNEL);
	if (!priv)
		return -ENOMEM;
	mutex_init(&priv->lock);
	INIT_WORK(&priv->poll_work, bar_poll);
	ret = devm_add_action_or_reset(&pdev->dev, bar_stop_poll, priv);
	if (ret)
		return ret;
	schedule_work(&priv->poll_work);
	return 0;
}

static struct platform_driver bar_driver = {
	.probe = bar_probe,
	.driver = { .name = "bar" },
};
module_platform_driver(bar_driver);
