// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "seed-fixed": dax_cxl waits for hmem's ownership
 * decision before it registers. Module init is not a probe: the flush
 * here may wait for probes without closing a cycle.
 */
#include <linux/module.h>
#include <linux/device.h>
#include <cxl/cxl.h>
#include "bus.h"

static int cxl_dax_region_probe(struct device *dev)
{
	struct cxl_dax_region *cxlr_dax = to_cxl_dax_region(dev);

	if (!cxlr_dax->cxlr)
		return -ENODEV;

	dev_dbg(dev, "CXL region handed to dax\n");
	return 0;
}

static struct cxl_driver cxl_dax_region_driver = {
	.name = "cxl_dax_region",
	.probe = cxl_dax_region_probe,
	.id = CXL_DEVICE_DAX_REGION,
	.drv = {
		.suppress_bind_attrs = true,
	},
};

static int __init cxl_dax_region_init(void)
{
	/* let dax_hmem settle which Soft Reserved ranges it keeps */
	dax_hmem_flush_work();

	return cxl_driver_register(&cxl_dax_region_driver);
}
module_init(cxl_dax_region_init);

static void __exit cxl_dax_region_exit(void)
{
	cxl_driver_unregister(&cxl_dax_region_driver);
}
module_exit(cxl_dax_region_exit);

MODULE_ALIAS_CXL(CXL_DEVICE_DAX_REGION);
MODULE_DESCRIPTION("fixture: CXL DAX region driver");
MODULE_LICENSE("GPL");
