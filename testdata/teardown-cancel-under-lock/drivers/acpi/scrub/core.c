// SPDX-License-Identifier: GPL-2.0
/*
 * A teardown action (registered with devm_add_action_or_reset() and handed
 * an untyped cookie) cancels a scrub work while holding the mutex the scrub
 * handler takes. The action's local gets its type from a `void *` parameter.
 */
#include <linux/mutex.h>
#include <linux/workqueue.h>
#include <linux/platform_device.h>

struct scrub_desc {
	struct mutex init_mutex;
	struct delayed_work dwork;
	unsigned long flags;
	void *bus;
};

static void scrub_work(struct work_struct *work)
{
	struct scrub_desc *desc;

	desc = container_of(work, typeof(*desc), dwork.work);
	mutex_lock(&desc->init_mutex);
	clear_bit(0, &desc->flags);
	mutex_unlock(&desc->init_mutex);
}

static void scrub_shutdown(void *data)
{
	struct scrub_desc *desc = data;

	if (!desc || !desc->bus)
		return;

	mutex_lock(&desc->init_mutex);
	set_bit(1, &desc->flags);
	cancel_delayed_work_sync(&desc->dwork);
	mutex_unlock(&desc->init_mutex);
}

static int scrub_probe(struct platform_device *pdev)
{
	struct scrub_desc *desc;

	desc = devm_kzalloc(&pdev->dev, sizeof(*desc), GFP_KERNEL);
	if (!desc)
		return -ENOMEM;
	mutex_init(&desc->init_mutex);
	INIT_DELAYED_WORK(&desc->dwork, scrub_work);
	return devm_add_action_or_reset(&pdev->dev, scrub_shutdown, desc);
}

static struct platform_driver scrub_driver = {
	.probe = scrub_probe,
	.driver = { .name = "scrub" },
};
module_platform_driver(scrub_driver);
