/* SPDX-License-Identifier: GPL-2.0 */
/*
 * waitcheck fixture "patch-tree": a small pool driver written for the
 * patch-mode tests. testdata/patches/wpool-series.mbox adds a deferred
 * scan to it in the shape of the LKML seed (see testdata/seed).
 */
#ifndef __WPOOL_H__
#define __WPOOL_H__
#include <linux/device.h>
#include <linux/ioport.h>

/* Ranges whose owner is another driver, resolved later. */
#define WPOOL_RANGE_REMOTE	0x1

typedef int (*wpool_range_fn)(struct device *host, int nid,
			      const struct resource *res);
int wpool_walk_ranges(struct device *host, wpool_range_fn fn);

#endif /* __WPOOL_H__ */
