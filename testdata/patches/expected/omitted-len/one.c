int toy_one = 2;
