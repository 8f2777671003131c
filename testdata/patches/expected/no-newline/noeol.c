int toy_noeol(void)
{
	return 42;
}