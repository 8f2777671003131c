// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "probe-flush-direct": probe queues the late init on
 * an unbound worker and flushes it right away to collect the result. The
 * handler (through acme-deps.c) waits for all probes to finish, including
 * this one, which is waiting for the handler: a circular wait.
 */
#include <linux/platform_device.h>
#include <linux/workqueue.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/io.h>
#include "acme.h"

#define ACME_MBOX_CTRL		0x00
#define ACME_MBOX_CTRL_EN	BIT(0)

static void acme_late_init(struct work_struct *work)
{
	struct acme_fw *fw = container_of(work, struct acme_fw, init_work);
	int ret;

	ret = acme_wait_for_suppliers(fw);
	if (ret) {
		fw->init_err = ret;
		return;
	}

	writel(ACME_MBOX_CTRL_EN, fw->mbox + ACME_MBOX_CTRL);
	fw->init_err = 0;
}

static int acme_probe(struct platform_device *pdev)
{
	struct acme_fw *fw;
	int ret;

	fw = devm_kzalloc(&pdev->dev, sizeof(*fw), GFP_KERNEL);
	if (!fw)
		return -ENOMEM;

	fw->pdev = pdev;
	fw->mbox = devm_platform_ioremap_resource(pdev, 0);
	if (IS_ERR(fw->mbox))
		return PTR_ERR(fw->mbox);

	INIT_WORK(&fw->init_work, acme_late_init);
	queue_work(system_unbound_wq, &fw->init_work);

	/* collect the result of the late init */
	flush_work(&fw->init_work);
	ret = fw->init_err;
	if (ret)
		goto err_put;

	platform_set_drvdata(pdev, fw);
	return 0;

err_put:
	acme_put_suppliers(fw);
	return dev_err_probe(&pdev->dev, ret, "late init failed\n");
}

static void acme_remove(struct platform_device *pdev)
{
	struct acme_fw *fw = platform_get_drvdata(pdev);

	writel(0, fw->mbox + ACME_MBOX_CTRL);
	acme_put_suppliers(fw);
}

static struct platform_driver acme_driver = {
	.probe = acme_probe,
	.remove = acme_remove,
	.driver = {
		.name = "acme-fw",
	},
};
module_platform_driver(acme_driver);

MODULE_DESCRIPTION("fixture: firmware driver that flushes its init work in probe");
MODULE_LICENSE("GPL");
