int toy_crlf(void)
{
	int x = 1;

	return x;
}

int toy_crlf2(void)
{
	return 2;
}
