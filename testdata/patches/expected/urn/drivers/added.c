int toy_added;
