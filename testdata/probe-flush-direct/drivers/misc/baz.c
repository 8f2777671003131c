// SPDX-License-Identifier: GPL-2.0
/* waitcheck fixture: probe flushes a work whose handler waits for probes. */
#include <linux/platform_device.h>
#include <linux/workqueue.h>
#include "baz.h"

static void baz_late_init(struct work_struct *work)
{
	baz_wait_for_deps();
}

static DECLARE_WORK(baz_work, baz_late_init);

static int baz_probe(struct platform_device *pdev)
{
	schedule_work(&baz_work);
	/* make sure the late init ran before we continue */
	flush_work(&baz_work);
	return 0;
}

static struct platform_driver baz_driver = {
	.probe = baz_probe,
	.driver = { .name = "baz" },
};
module_platform_driver(baz_driver);
