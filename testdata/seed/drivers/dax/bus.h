/* SPDX-License-Identifier: GPL-2.0 */
/* waitcheck fixture: the seed shape, written fresh. */
#ifndef __DAX_BUS_FIXTURE_H__
#define __DAX_BUS_FIXTURE_H__
struct device;
struct resource;

typedef void (*dax_hmem_deferred_fn)(void *data);
typedef int (*walk_hmem_fn)(struct device *dev, int nid, const struct resource *res);

int dax_hmem_register_work(dax_hmem_deferred_fn fn, void *data);
int dax_hmem_unregister_work(dax_hmem_deferred_fn fn, void *data);
void dax_hmem_queue_work(void);
void dax_hmem_flush_work(void);
int walk_hmem_resources(struct device *dev, walk_hmem_fn fn);
#endif
