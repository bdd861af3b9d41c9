"""Word lists the demo world is built from: people, companies, agencies, services, competitors.

Written by hand (no Faker): small lists combined at random give thousands of distinct names.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "Olivia Liam Emma Noah Ava Elijah Sophia Mateo Isabella Lucas Mia Levi Amelia Ezra Harper Asher Evelyn "
    "Leo Luna Kai Chloe Omar Nora Arjun Priya Wei Mei Hiroshi Yuki Fatima Amir Leila Samir Zara Diego Lucia "
    "Carlos Valentina Sofia Tomas Ingrid Lars Freya Johan Astrid Mikael Chiara Marco Giulia Pierre Camille "
    "Louis Chloe Hannah Jonas Lena Felix Clara Aisha Kwame Amara Tunde Zainab Daniel Grace Samuel Ruth "
    "Patrick Siobhan Connor Aoife Rahul Ananya Vikram Neha Jin Hana Minho Soyeon Nikolai Anya Dmitri Katya "
    "Maya Ethan Rosa Julian Nadia Oscar Tess Victor Ivy Hugo Alma Reza Dana Theo Iris Malik Jade"
)

LAST_NAMES = _words(
    "Smith Johnson Garcia Martinez Lee Kim Nguyen Patel Shah Chen Wang Tanaka Sato Muller Schmidt Rossi "
    "Bianchi Dubois Lefevre Novak Kowalski Andersson Johansson Hansen Nielsen Okafor Mensah Adeyemi Haddad "
    "Khan Ali Hussein Cohen Levi Silva Santos Costa Oliveira Fernandez Lopez Gonzalez Ramirez Torres Rivera "
    "Murphy Kelly Byrne Walsh OBrien Campbell Stewart Fraser Reid Morgan Hughes Evans Price Bennett Brooks "
    "Foster Hayes Ward Cooper Reed Bailey Bell Gray Wood Hill Baker Turner Parker Collins Edwards Stone "
    "Fischer Weber Wagner Becker Hoffmann Jansen Bakker Visser Petrov Ivanova Sokolov Horvat Popescu Yilmaz"
)

# Prospect companies: "<stem> <kind>" inside the industry they belong to.
COMPANY_STEMS = _words(
    "Northwind Alder Bluebird Cedar Copper Driftwood Ember Fjord Granite Harbor Juniper Kestrel Lantern "
    "Maple Meridian Nimbus Oakridge Pinecrest Quarry Redwood Sable Silverline Summit Tidewater Trillium "
    "Upland Vantage Willow Yarrow Zephyr Aspen Beacon Birch Canyon Clover Crescent Dovetail Elm Evergreen "
    "Falcon Foxglove Glacier Hawthorn Heron Ironwood Ivy Larkspur Linden Magnolia Mistral Onyx Orchard "
    "Pebble Prairie Raven Riverbend Saffron Sequoia Sparrow Stonebridge Sycamore Thistle Timber Violet "
    "Wren Amber Arbor Bramble Cobalt Coral Dune Fern Garnet Hazel Indigo Jasper Lumen Marigold Opal"
)

INDUSTRIES: dict[str, tuple[str, ...]] = {
    "Retail & E-commerce": ("Outfitters", "Goods", "Supply Co", "Boutique", "Market", "Apparel"),
    "SaaS & Technology": ("Labs", "Software", "Systems", "Analytics", "Cloud", "AI"),
    "Healthcare": ("Dental", "Clinic", "Health", "Physio", "Medical Group", "Wellness"),
    "Hospitality": ("Hotels", "Bistro", "Resorts", "Kitchen", "Inn", "Coffee Roasters"),
    "Real Estate": ("Realty", "Properties", "Homes", "Estates", "Living", "Developments"),
    "Professional Services": ("Legal", "Advisory", "Partners", "Accounting", "Consulting", "Law"),
    "Education": ("Academy", "Learning", "School", "Tutoring", "Institute", "Education"),
    "Manufacturing": ("Industries", "Manufacturing", "Works", "Fabrication", "Components", "Tools"),
    "Fitness & Beauty": ("Fitness", "Studio", "Salon", "Yoga", "Athletics", "Skincare"),
    "Nonprofit": ("Foundation", "Trust", "Alliance", "Collective", "Fund", "Society"),
}

CITIES = _words("Austin Denver Portland Leeds Bristol Dublin Toronto Boston Lyon Porto Malmo Ghent Tampa Reno "
                "Oakland Boise Halifax Galway Cork Utrecht Aarhus Graz Turin Bilbao Tucson Omaha Raleigh Madison")

COMPANY_SIZES = ("1-10", "11-50", "51-200", "201-1000", "1000+")

AGENCY_FIRST = ("Brightlane", "Northstar", "Bold", "Hatch", "Fable", "Kindred", "Lighthouse", "Moonshot",
                "Parallax", "Pinpoint", "Rocket", "Signal", "Spark", "Tandem", "True North", "Wildfire",
                "Copperleaf", "Blue Harbor", "Clearview", "Forge", "Greenroom", "Helix", "Lumen", "Orbit",
                "Paper Crane", "Redshift", "Sapling", "Second Street", "Tall Tree", "Upshift", "Velvet",
                "Wayfinder", "Yellow Door")
AGENCY_SECOND = ("Digital", "Media", "Creative", "Growth", "Studio", "Marketing", "Collective", "Agency",
                 "& Co", "Partners")

TITLES_BUYER = ("Marketing Director", "Head of Marketing", "CMO", "VP Marketing", "Founder", "CEO",
                "Owner", "Head of Growth", "Managing Director", "Director of Communications")
TITLES_OTHER = ("Marketing Manager", "Marketing Coordinator", "Content Manager", "Social Media Manager",
                "Brand Manager", "Digital Marketing Specialist", "Office Manager", "Operations Manager",
                "E-commerce Manager", "Communications Officer")

LEAD_SOURCES = ("website", "referral", "paid_search", "paid_social", "webinar", "event", "cold_outreach",
                "content_download", "partner")

# What the agencies sell; deals and orders are for these.
SERVICES = ("SEO", "paid search", "paid social", "email automation", "website redesign", "content marketing",
            "brand strategy", "video production", "marketing analytics", "conversion optimisation",
            "influencer campaigns", "PR outreach")
SERVICE_PRICE = {  # typical monthly retainer in USD
    "SEO": 3500, "paid search": 4500, "paid social": 4000, "email automation": 2500, "website redesign": 9000,
    "content marketing": 3000, "brand strategy": 7000, "video production": 6000, "marketing analytics": 3200,
    "conversion optimisation": 3800, "influencer campaigns": 5000, "PR outreach": 4200,
}

# Rival agencies and do-it-yourself alternatives prospects compare us with.
COMPETITORS = ("Brightwave Agency", "Pixel & Pine", "Loudhouse", "Northbeam Media", "Clickstream Partners",
               "Atlas Growth", "Rankly", "Adsmith", "Funnelworks", "Kinetic Digital", "Bluefin Creative",
               "Storyline Studio", "Momentum Marketing", "Vertex Digital", "an in-house hire",
               "a freelancer they already use", "Hubbub Agency", "Catalyst & Co")

OBJECTIONS = ("the price is above what they planned", "they worry about a 12-month contract",
              "timing: they want to wait until next quarter", "they had a bad experience with a previous agency",
              "they are not sure they need outside help", "their CEO has to sign off",
              "they want proof of results in their industry", "they think they can do it in-house",
              "their budget is frozen until the new fiscal year", "they want month-to-month terms")

NEXT_STEPS = ("send a proposal by Friday", "book a strategy workshop", "share two case studies",
              "set up a call with their CEO", "send a revised quote", "run a free audit of their site",
              "prepare a 90-day plan", "intro call with our head of paid media", "send the contract for review",
              "schedule a demo of our reporting dashboard", "follow up after their board meeting",
              "draft a content calendar sample")

COMPLAINTS = ("reports arrive late", "leads from paid search dropped", "the account manager changed twice",
              "the cost per lead went up", "the website update broke their forms", "slow replies to requests",
              "invoices do not match the scope", "campaign creative missed the brief",
              "organic traffic has been flat for months", "they feel they are not a priority")

PRAISES = ("the new campaign beat its target", "cost per lead fell again", "the team loved the creative",
           "organic traffic is up nicely", "reporting is clear and on time", "the launch went smoothly",
           "leads from paid social doubled", "their board was happy with the numbers")

CAMPAIGN_THEMES = ("Spring Growth Playbook", "Local SEO Checklist", "Paid Social Benchmarks", "Black Friday Prep",
                   "Email Automation 101", "Website Conversion Audit", "Q4 Planning Webinar",
                   "Brand Refresh Guide", "Content Calendar Template", "Agency Partner Summit",
                   "Google Ads Masterclass", "Customer Stories", "Industry Trends Report", "New Year Kickoff")

WEB_PAGES_LOW = ("/blog/seo-basics", "/blog/social-media-tips", "/blog/email-subject-lines", "/about",
                 "/blog/brand-voice", "/resources/checklist", "/careers", "/blog/google-ads-mistakes")
WEB_PAGES_HIGH = ("/pricing", "/services", "/case-studies", "/contact", "/book-a-call", "/services/paid-media",
                  "/services/seo", "/case-studies/retail")
WEB_PAGES_CUSTOMER = ("/client-portal", "/client-portal/reports", "/help", "/client-portal/invoices",
                      "/help/billing", "/client-portal/campaigns")

FORMS = ("contact-us", "ebook-download", "webinar-registration", "free-audit-request", "newsletter-signup",
         "book-a-call")

LOST_REASONS = ("price", "went with competitor", "no budget", "timing", "no decision", "chose in-house",
                "scope mismatch", "unresponsive")

TICKET_TOPICS = ("reporting delay", "broken tracking", "billing question", "campaign paused unexpectedly",
                 "landing page error", "access to dashboard", "creative revisions", "budget overspend")
