"""Static vocabularies: names, places, categories, product words, campaign themes.

Names and places include accents, apostrophes and commas on purpose, so readers are exercised on
UTF-8 and CSV quoting.
"""

from __future__ import annotations

import unicodedata

FIRST_NAMES = (
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Nancy",
    "Matthew",
    "Lisa",
    "Anthony",
    "Betty",
    "Mark",
    "Margaret",
    "Paul",
    "Sandra",
    "Steven",
    "Ashley",
    "Andrew",
    "Emily",
    "Joshua",
    "Donna",
    "Kevin",
    "Michelle",
    "Brian",
    "Carol",
    "José",
    "María",
    "Zoë",
    "Chloé",
    "Łukasz",
    "Søren",
    "Aoife",
    "Siobhán",
    "François",
    "Renée",
    "Jürgen",
    "Mónica",
    "Noah",
    "Olivia",
    "Liam",
    "Emma",
    "Mia",
    "Lucas",
    "Amélie",
    "Björn",
    "Priya",
    "Arjun",
    "Wei",
    "Mei",
    "Hiroshi",
    "Yuki",
    "Fatima",
    "Omar",
    "Ngozi",
    "Kwame",
)
LAST_NAMES = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "O'Brien",
    "O'Connor",
    "D'Angelo",
    "García",
    "Müller",
    "Schröder",
    "Dubois",
    "Lefèvre",
    "Kowalski",
    "Nowak",
    "Nguyen",
    "Tran",
    "Kim",
    "Park",
    "Chen",
    "Wang",
    "Singh",
    "Patel",
    "Rossi",
    "Bianchi",
    "Fernández",
    "Jensen",
    "Nielsen",
    "Murphy",
    "Kelly",
    "Walsh",
    "Byrne",
    "Novák",
    "Svensson",
    "Okafor",
)
GENDERS = ("female", "male", "non-binary")
GENDER_SHARES = (0.52, 0.46, 0.02)
EMAIL_DOMAINS = (
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "aol.com",
    "proton.me",
    "example.org",
    "mail.example.net",
    "web.de",
    "orange.fr",
    "btinternet.co.uk",
)
EMAIL_PATTERNS = 4  # first.last, firstlast, flast, last.first; always followed by the contact number

# country code, share, phone prefix, postal code pattern (9 = digit, A = letter), currency, cities
COUNTRIES = (
    (
        "US",
        0.60,
        "+1",
        "99999",
        "USD",
        (
            "New York",
            "Los Angeles",
            "Chicago",
            "Houston",
            "Phoenix",
            "Seattle",
            "Boston",
            "Denver",
            "Austin",
            "Washington, D.C.",
        ),
    ),
    (
        "GB",
        0.10,
        "+44",
        "A9 9AA",
        "GBP",
        ("London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Bristol"),
    ),
    ("CA", 0.08, "+1", "A9A 9A9", "CAD", ("Toronto", "Montréal", "Vancouver", "Calgary", "Ottawa")),
    ("DE", 0.06, "+49", "99999", "EUR", ("Berlin", "München", "Hamburg", "Köln", "Frankfurt am Main")),
    ("FR", 0.06, "+33", "99999", "EUR", ("Paris", "Lyon", "Marseille", "Toulouse", "Nice")),
    ("AU", 0.06, "+61", "9999", "AUD", ("Sydney", "Melbourne", "Brisbane", "Perth", "Adelaide")),
    ("ES", 0.02, "+34", "99999", "EUR", ("Madrid", "Barcelona", "València", "Sevilla")),
    ("IT", 0.02, "+39", "99999", "EUR", ("Roma", "Milano", "Napoli", "Torino")),
)
INCOME_BANDS = ("low", "middle", "high")
LOYALTY_TIERS = ("bronze", "silver", "gold", "platinum")
# trailing-12-month spend (USD cents) needed for each tier above bronze
LOYALTY_THRESHOLDS_CENTS = (30_000, 100_000, 250_000)

# category, share of the catalogue, median price (USD), price spread (lognormal sigma), subcategories
CATEGORIES = (
    ("apparel", 0.22, 40.0, 0.55, ("tops", "bottoms", "outerwear", "activewear")),
    ("footwear", 0.10, 85.0, 0.45, ("sneakers", "boots", "sandals")),
    ("home", 0.16, 35.0, 0.75, ("kitchen", "decor", "bedding", "bath")),
    ("beauty", 0.12, 24.0, 0.55, ("skincare", "makeup", "fragrance", "haircare")),
    ("electronics", 0.10, 110.0, 0.85, ("audio", "accessories", "smart-home", "wearables")),
    ("sports", 0.10, 50.0, 0.70, ("fitness", "outdoor", "cycling")),
    ("toys", 0.10, 25.0, 0.60, ("games", "puzzles", "plush")),
    ("books", 0.10, 16.0, 0.35, ("fiction", "non-fiction", "kids")),
)
CATEGORY_NAMES = tuple(c[0] for c in CATEGORIES)
ADJECTIVES = (
    "Classic",
    "Everyday",
    "Premium",
    "Organic",
    "Vintage",
    "Modern",
    "Essential",
    "Deluxe",
    "Eco",
    "Ultra-Light",
    "Cozy",
    "Signature",
    "Heritage",
    "Compact",
    "Pro",
    "Bold",
    "Soft-Touch",
    "Nordic",
)
NOUNS = {
    "tops": ("T-Shirt", "Blouse", "Hoodie", "Polo"),
    "bottoms": ("Jeans", "Chinos", "Skirt", "Shorts"),
    "outerwear": ("Parka", "Rain Jacket", "Blazer", "Gilet"),
    "activewear": ("Leggings", "Sports Bra", "Track Top"),
    "sneakers": ("Runner", "Court Sneaker", "Trail Shoe"),
    "boots": ("Chelsea Boot", "Hiking Boot", "Ankle Boot"),
    "sandals": ("Slide", "Espadrille", "Sandal"),
    "kitchen": ("Chef's Knife, 8\"", "Skillet", "Mixing Bowl Set", "Coffee Grinder"),
    "decor": ("Vase", "Wall Print", "Candle, Fig & Cedar", "Mirror"),
    "bedding": ("Duvet Cover", "Pillow Pair", "Throw Blanket"),
    "bath": ("Towel Set", "Bath Mat", "Robe"),
    "skincare": ("Face Serum", "Moisturiser", "Cleanser"),
    "makeup": ("Lipstick", "Mascara", "Palette"),
    "fragrance": ("Eau de Parfum", "Body Mist"),
    "haircare": ("Shampoo", "Conditioner", "Hair Oil"),
    "audio": ("Headphones", "Earbuds", "Bluetooth Speaker"),
    "accessories": ("USB-C Cable", "Power Bank", "Case"),
    "smart-home": ("Smart Plug", "Smart Bulb", "Doorbell Camera"),
    "wearables": ("Fitness Band", "Smartwatch"),
    "fitness": ("Yoga Mat", "Kettlebell", "Resistance Bands"),
    "outdoor": ("Tent", "Backpack, 30 L", "Headlamp"),
    "cycling": ("Bike Helmet", "Bike Light", "Cycling Gloves"),
    "games": ("Board Game", "Card Game"),
    "puzzles": ("1000-Piece Puzzle", "3D Puzzle"),
    "plush": ("Teddy Bear", "Plush Fox"),
    "fiction": ("Novel", "Short Stories"),
    "non-fiction": ("Cookbook", "Biography", "Travel Guide"),
    "kids": ("Picture Book", "Activity Book"),
}
SEARCH_TERMS = (
    "gift ideas",
    "black dress",
    "running shoes",
    "wireless earbuds",
    "sale",
    "candle",
    "yoga mat",
    "winter jacket",
    "board games",
    "skincare set",
    "coffee",
    "backpack",
    "new arrivals",
    "kids books",
)
DEVICES = ("desktop", "mobile", "tablet")
ORDER_CHANNELS = ("web", "app", "store", "marketplace")

SHOP_URL = "https://shop.example.com"
CDN_URL = "https://cdn.example.com/img"

# utm source, medium, campaign for sessions that start from ads or social posts
AD_TRAFFIC = (
    ("google", "cpc", "brand-search"),
    ("google", "cpc", "generic-search"),
    ("facebook", "paid_social", "prospecting"),
    ("instagram", "social", None),
    ("bing", "cpc", "brand-search"),
    ("affiliate-network", "affiliate", "coupon-sites"),
)
EMAIL_UTM_SOURCE = "newsletter"
EMAIL_UTM_MEDIUM = "email"

# segment name, share of eligible contacts addressed, affinity per persona (see personas.PERSONAS order);
# shares are calibrated so that an opted-in contact of a segment's personas gets a few e-mails in any
# 90 days (the window of the e-mail features): ~25 e-mail events per contact over the history
CAMPAIGN_SEGMENTS = (
    ("all_subscribers", 0.28, (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)),
    ("high_value", 0.30, (1.0, 0.25, 0.05, 0.3, 0.1, 0.5)),
    ("discount_seekers", 0.28, (0.2, 1.0, 0.3, 0.4, 0.3, 0.4)),
    ("lapsed_winback", 0.30, (0.05, 0.2, 0.3, 1.0, 0.0, 0.3)),
    ("new_customers", 0.35, (0.0, 0.05, 0.1, 0.0, 1.0, 0.0)),
    ("browsers_no_purchase", 0.28, (0.05, 0.2, 1.0, 0.2, 0.3, 0.1)),
)
CAMPAIGN_THEMES = (
    ("New arrivals", "Just landed: {cat} you'll love"),
    ("Weekly picks", "This week's picks, hand-chosen for you"),
    ("Flash sale", "⚡ 24 hours only: {pct}% off {cat}"),
    ("Member offer", 'Your "members only" deal is here'),
    ("Restock", "Back in stock: our best-selling {cat}"),
    ("Style guide", "How to wear it: the {cat} edit"),
    ("Free shipping", "Free shipping, this weekend only 🚚"),
)
SEASONAL_CAMPAIGNS = (
    (11, 24, "Black Friday", "🖤 Black Friday: up to 40% off, everything"),
    (11, 28, "Cyber Monday", "Cyber Monday, last chance: {pct}% off {cat}"),
    (12, 8, "Gift guide", "🎁 Gifts they'll actually love"),
    (12, 18, "Last shipping day", "Order by Friday, delivered before the holidays"),
    (1, 3, "January sale", "The January sale starts now"),
    (7, 10, "Summer sale", "☀️ Summer sale: {pct}% off {cat}"),
)


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters of a name (for e-mail local parts): 'O'Brien' -> 'obrien', 'Zoë' -> 'zoe'."""
    decomposed = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L").replace("ø", "o"))
    return "".join(ch for ch in decomposed.lower() if "a" <= ch <= "z")
