/* Obsolete helper, removed by delete.patch. */
int toy_old(void)
{
	return 1;
}
