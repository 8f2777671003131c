/* SPDX-License-Identifier: GPL-2.0 */
/*
 * waitcheck fixture "probe-flush-direct": a firmware interface driver that
 * finishes initialisation on an unbound worker.
 */
#ifndef _ACME_H
#define _ACME_H

#include <linux/platform_device.h>
#include <linux/workqueue.h>

struct acme_fw {
	struct platform_device *pdev;
	struct device *supplier;
	struct work_struct init_work;
	void __iomem *mbox;
	int init_err;
};

/* acme-deps.c */
int acme_wait_for_suppliers(struct acme_fw *fw);
void acme_put_suppliers(struct acme_fw *fw);

#endif /* _ACME_H */
