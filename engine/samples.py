"""Built-in Bangla sample text, used by the self-test and the benchmarks."""

SELFTEST_SENTENCE = "আমার মাথা ব্যথা আর জ্বর, ডাক্তার নাপা ৫০০ মিগ্রা দিনে ৩ বার খেতে বলেছেন।"

# A 42-word consumer health question in the style of the training data.
BENCHMARK_NOTE = (
    "আমার বয়স ৩৫ বছর । গত তিন দিন ধরে আমার মাথা ব্যথা , জ্বর এবং শরীরে ব্যথা । "
    "ডাক্তার নাপা ৫০০ মিগ্রা দিনে তিনবার খেতে বলেছেন । রক্ত পরীক্ষা করা দরকার কি ? "
    "আমি কোন বিশেষজ্ঞ ডাক্তার দেখাব ? ধন্যবাদ ।"
)
