// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "mutex-trylock": changing the sampling mode holds
 * priv->lock across cancel_work_sync() of the refresh work, and the
 * refresh handler wants the same lock, but only tries it: when the lock
 * is busy the handler skips this refresh and returns, so the cancel always
 * completes. No finding.
 */
#include <linux/platform_device.h>
#include <linux/interrupt.h>
#include <linux/workqueue.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sysfs.h>
#include <linux/io.h>

#define TL_REG_MODE	0x00
#define TL_REG_TEMP	0x04
#define TL_REG_IRQ_ACK	0x08
#define TL_MODE_MAX	3

struct tl_mon {
	void __iomem *regs;
	struct mutex lock;	/* protects mode and temp */
	struct work_struct refresh_work;
	unsigned int mode;
	int temp;
};

static void tl_refresh_locked(struct tl_mon *tl)
{
	lockdep_assert_held(&tl->lock);
	tl->temp = readl(tl->regs + TL_REG_TEMP) * 125;
}

static void tl_refresh_work(struct work_struct *work)
{
	struct tl_mon *tl = container_of(work, struct tl_mon, refresh_work);

	/* a mode change is in progress: it refreshes by itself */
	if (!mutex_trylock(&tl->lock))
		return;

	tl_refresh_locked(tl);
	mutex_unlock(&tl->lock);
}

static irqreturn_t tl_irq(int irq, void *dev_id)
{
	struct tl_mon *tl = dev_id;

	writel(1, tl->regs + TL_REG_IRQ_ACK);
	schedule_work(&tl->refresh_work);
	return IRQ_HANDLED;
}

static ssize_t mode_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct tl_mon *tl = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", tl->mode);
}

static ssize_t mode_store(struct device *dev, struct device_attribute *attr,
			  const char *buf, size_t count)
{
	struct tl_mon *tl = dev_get_drvdata(dev);
	unsigned int mode;
	int ret;

	ret = kstrtouint(buf, 0, &mode);
	if (ret)
		return ret;
	if (mode > TL_MODE_MAX)
		return -EINVAL;

	mutex_lock(&tl->lock);
	cancel_work_sync(&tl->refresh_work);
	writel(mode, tl->regs + TL_REG_MODE);
	tl->mode = mode;
	tl_refresh_locked(tl);
	mutex_unlock(&tl->lock);

	return count;
}
static DEVICE_ATTR_RW(mode);

static struct attribute *tl_attrs[] = {
	&dev_attr_mode.attr,
	NULL
};
ATTRIBUTE_GROUPS(tl);

static int tl_probe(struct platform_device *pdev)
{
	struct tl_mon *tl;
	int irq;

	tl = devm_kzalloc(&pdev->dev, sizeof(*tl), GFP_KERNEL);
	if (!tl)
		return -ENOMEM;

	tl->regs = devm_platform_ioremap_resource(pdev, 0);
	if (IS_ERR(tl->regs))
		return PTR_ERR(tl->regs);

	irq = platform_get_irq(pdev, 0);
	if (irq < 0)
		return irq;

	mutex_init(&tl->lock);
	INIT_WORK(&tl->refresh_work, tl_refresh_work);
	platform_set_drvdata(pdev, tl);

	return devm_request_irq(&pdev->dev, irq, tl_irq, 0, "tl-mon", tl);
}

static void tl_remove(struct platform_device *pdev)
{
	struct tl_mon *tl = platform_get_drvdata(pdev);

	cancel_work_sync(&tl->refresh_work);
}

static struct platform_driver tl_driver = {
	.probe = tl_probe,
	.remove = tl_remove,
	.driver = {
		.name = "tl-mon",
		.dev_groups = tl_groups,
	},
};
module_platform_driver(tl_driver);

MODULE_DESCRIPTION("fixture: sensor whose refresh work only trylocks");
MODULE_LICENSE("GPL");
