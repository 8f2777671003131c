/* SPDX-License-Identifier: GPL-2.0 */
/*
 * waitcheck fixture "seed-fixed": the dax bus header after the merged fix
 * (v8 shape, reconstructed): no shared trampoline any more, only a flush
 * entry point that dax_cxl calls before it registers its driver.
 */
#ifndef __DAX_BUS_H__
#define __DAX_BUS_H__
#include <linux/device.h>
#include <linux/ioport.h>

#if IS_ENABLED(CONFIG_DEV_DAX_HMEM)
extern bool dax_hmem_initial_probe;
void dax_hmem_flush_work(void);
#else
static inline void dax_hmem_flush_work(void)
{
}
#endif

/* Lives in include/linux/dax.h in the kernel; kept local for the fixture. */
typedef int (*walk_hmem_fn)(struct device *dev, int target_nid,
			    const struct resource *res);
int walk_hmem_resources(struct device *host, walk_hmem_fn fn);

#endif /* __DAX_BUS_H__ */
