// The demo store the built-in tools work on: knowledge base, catalogue, plans and orders (global), tickets (per tenant).
import { MigrationInterface, QueryRunner } from 'typeorm';

interface ArticleSeed {
  slug: string;
  title: string;
  tags: string[];
  body: string;
}

const ARTICLES: ArticleSeed[] = [
  {
    slug: 'reset-password',
    title: 'How to reset your password',
    tags: ['account', 'login', 'password'],
    body:
      'If you forgot your password, open the sign-in page and choose "Forgot password?". Enter the email ' +
      'address of your account and we send a reset link that stays valid for 60 minutes. Follow the link, ' +
      'choose a new password of at least 12 characters and sign in again. If the email does not arrive within ' +
      'ten minutes, check your spam folder and make sure you used the address your account was created with. ' +
      'Resetting a password signs you out of every other device. Accounts that use single sign-on (SSO) cannot ' +
      'reset their password here: ask your company administrator instead.',
  },
  {
    slug: 'two-factor-authentication',
    title: 'Set up two-factor authentication (2FA)',
    tags: ['account', 'security', '2fa'],
    body:
      'Two-factor authentication protects your account with a one-time code in addition to your password. ' +
      'Go to Settings > Security > Two-factor authentication, scan the QR code with an authenticator app such ' +
      'as Google Authenticator, 1Password or Authy, and enter the six-digit code to confirm. Save the ten ' +
      'recovery codes shown once: each lets you sign in if you lose your phone. If you have lost both your ' +
      'phone and your recovery codes, contact support with a photo ID; for your security, disabling 2FA this ' +
      'way takes up to three business days.',
  },
  {
    slug: 'refund-policy',
    title: 'Refund policy: how to get your money back',
    tags: ['billing', 'refunds'],
    body:
      'Subscriptions can be refunded in full within 14 days of the first payment; after that, cancelling stops ' +
      'the next renewal and you keep access until the end of the paid period. Hardware bought from our store ' +
      'is refunded once the returned item reaches our warehouse and passes inspection. Refunds go back to the ' +
      'original payment method and usually appear within 5 to 10 business days, depending on your bank. ' +
      'Orders that were cancelled before shipping are refunded automatically within 24 hours.',
  },
  {
    slug: 'shipping-times',
    title: 'Shipping times and carriers',
    tags: ['orders', 'shipping', 'delivery'],
    body:
      'Orders placed before 2 pm on a business day ship the same day from our warehouse. Standard shipping ' +
      'takes 3 to 5 business days within the United States and 5 to 10 business days to Canada and Europe. ' +
      'Express shipping takes 1 to 2 business days. We ship with UPS, FedEx and DHL; once your order ships, ' +
      'you receive an email with the carrier and a tracking number. Delivery estimates do not include ' +
      'weekends or public holidays, and customs can add a few days for international orders.',
  },
  {
    slug: 'returns',
    title: 'Returning a product',
    tags: ['orders', 'returns', 'hardware'],
    body:
      'You can return hardware within 30 days of delivery if it is in its original packaging with all ' +
      'accessories. Open the order in your account, choose "Return items", select the products and a reason, ' +
      'and print the prepaid return label. Defective items are replaced or refunded at no cost; items returned ' +
      'because you changed your mind incur a 10% restocking fee. Software licences and add-ons are not ' +
      'returned but can be refunded under the refund policy.',
  },
  {
    slug: 'invoices',
    title: 'Download invoices and receipts',
    tags: ['billing', 'invoices'],
    body:
      'Every payment creates an invoice. Account owners and billing administrators find them under Settings > ' +
      'Billing > Invoices, where each invoice can be downloaded as a PDF. To add a VAT number, a company name ' +
      'or a billing address to future invoices, edit the billing details on the same page; past invoices are ' +
      'not changed. If you need a corrected invoice for a past payment, open a support ticket with the invoice ' +
      'number and the details to change.',
  },
  {
    slug: 'api-keys',
    title: 'Create and rotate API keys',
    tags: ['developers', 'api', 'security'],
    body:
      'API keys let your services call our REST API. Create one under Settings > Developers > API keys, give ' +
      'it a name and a role, and copy the key: it is shown only once. Send it in the Authorization header as ' +
      '"Bearer <key>". To rotate a key, create a new one, deploy it, then revoke the old key; revoked keys stop ' +
      'working immediately. Never commit keys to source control. If a key leaks, revoke it at once and ' +
      'review the audit log for calls you do not recognise.',
  },
  {
    slug: 'upgrade-plan',
    title: 'Upgrade or downgrade your plan',
    tags: ['billing', 'plans', 'subscription'],
    body:
      'Account owners can change plans at any time under Settings > Billing > Plan. An upgrade takes effect ' +
      'immediately and you pay the prorated difference for the rest of the billing period. A downgrade takes ' +
      'effect at the next renewal; if you use more seats than the new plan includes, the extra seats are ' +
      "billed at the plan's per-seat price. Switching from monthly to annual billing saves about two months " +
      'a year.',
  },
  {
    slug: 'data-export',
    title: 'Export your data',
    tags: ['account', 'data', 'privacy'],
    body:
      'You can export all your workspace data at any time. Go to Settings > Workspace > Export and choose ' +
      'JSON or CSV. Exports run in the background; we email a download link when the archive is ready, usually ' +
      'within an hour, and the link expires after 7 days. Exports include projects, conversations, users and ' +
      'audit logs, but never passwords or API keys. Only workspace owners can start a full export.',
  },
  {
    slug: 'delete-account',
    title: 'Delete your account',
    tags: ['account', 'privacy'],
    body:
      'Deleting your account removes your profile, workspaces you own and all their data. Go to Settings > ' +
      'Account > Delete account and confirm with your password. Cancel any active subscription first; deletion ' +
      'is refused while a paid plan is active. Data is erased from our systems within 30 days and from backups ' +
      'within 90 days. Deletion cannot be undone, so export your data first if you may need it.',
  },
  {
    slug: 'single-sign-on',
    title: 'Configure single sign-on (SSO) with SAML or OIDC',
    tags: ['security', 'sso', 'enterprise'],
    body:
      'Single sign-on is available on the Business and Enterprise plans. Workspace owners configure it under ' +
      'Settings > Security > SSO by entering the identity provider metadata (Okta, Azure AD, Google Workspace ' +
      'or any SAML 2.0 or OpenID Connect provider) and verifying the company domain. Once SSO is enforced, ' +
      'members sign in through the identity provider and password sign-in is disabled for them. Keep one owner ' +
      'account outside SSO so that you can recover access if the provider is misconfigured.',
  },
  {
    slug: 'api-rate-limits',
    title: 'API rate limits',
    tags: ['developers', 'api', 'limits'],
    body:
      'The REST API allows 60 requests per minute per API key on the Starter plan, 300 on Team, 1,000 on ' +
      'Business and 5,000 on Enterprise. A request over the limit gets HTTP status 429 with a Retry-After header ' +
      'giving the seconds to wait. Use exponential backoff with jitter when you retry, and spread batch jobs ' +
      'over time instead of sending bursts. Enterprise customers can ask for a higher limit through their ' +
      'account manager.',
  },
];

const PRODUCTS: Array<[string, string, string, string, string, boolean]> = [
  [
    'HW-KB-101',
    'Mechanical Keyboard Pro',
    'Full-size mechanical keyboard with hot-swappable switches, USB-C and Bluetooth.',
    'peripherals',
    '129.00',
    true,
  ],
  [
    'HW-MS-102',
    'Wireless Ergonomic Mouse',
    'Vertical ergonomic mouse with a 70-day battery and silent clicks.',
    'peripherals',
    '59.00',
    true,
  ],
  [
    'HW-DK-103',
    'USB-C Docking Station',
    'Eleven-port dock: two 4K displays, 100 W charging, Gigabit Ethernet.',
    'peripherals',
    '189.00',
    true,
  ],
  [
    'HW-CM-201',
    '4K Webcam',
    'Ultra HD webcam with auto-framing, low-light correction and a privacy shutter.',
    'audio-video',
    '149.00',
    true,
  ],
  [
    'HW-HS-202',
    'Noise-Cancelling Headset',
    'Wireless headset with active noise cancellation and a boom microphone certified for video calls.',
    'audio-video',
    '219.00',
    true,
  ],
  [
    'SW-BK-301',
    'Cloud Backup Add-on',
    'Daily encrypted backups of your workspace with 90-day retention, per workspace per month.',
    'add-ons',
    '15.00',
    true,
  ],
  [
    'SW-SC-302',
    'Advanced Security Add-on',
    'Audit log streaming, IP allow-lists and data loss prevention rules, per workspace per month.',
    'add-ons',
    '49.00',
    true,
  ],
  [
    'SW-AN-303',
    'Analytics Add-on',
    'Usage dashboards and scheduled CSV reports, per workspace per month.',
    'add-ons',
    '25.00',
    true,
  ],
  [
    'HW-MS-099',
    'Wired Office Mouse (discontinued)',
    'Basic wired mouse, replaced by the Wireless Ergonomic Mouse.',
    'peripherals',
    '19.00',
    false,
  ],
];

// [code, name, monthly, annual, seats included, max seats, extra seat monthly, extra seat annual, features]
const PLANS: Array<[string, string, string, string, number, number | null, string, string, string[]]> = [
  [
    'starter',
    'Starter',
    '29.00',
    '290.00',
    3,
    10,
    '10.00',
    '100.00',
    ['3 seats included', 'Community support', '60 API requests per minute', '5 GB storage'],
  ],
  [
    'team',
    'Team',
    '99.00',
    '990.00',
    10,
    50,
    '9.00',
    '90.00',
    [
      '10 seats included',
      'Email support',
      '300 API requests per minute',
      '100 GB storage',
      'Shared workspaces',
    ],
  ],
  [
    'business',
    'Business',
    '299.00',
    '2990.00',
    25,
    250,
    '8.00',
    '80.00',
    [
      '25 seats included',
      'Priority support',
      '1,000 API requests per minute',
      '1 TB storage',
      'Single sign-on (SSO)',
      'Audit log',
    ],
  ],
  [
    'enterprise',
    'Enterprise',
    '999.00',
    '9990.00',
    100,
    null,
    '7.00',
    '70.00',
    [
      '100 seats included',
      'Dedicated account manager',
      '5,000 API requests per minute',
      'Unlimited storage',
      'Single sign-on (SSO)',
      'Audit log',
      '99.9% uptime SLA',
    ],
  ],
];

interface OrderSeed {
  number: string;
  email: string;
  status: string;
  items: Array<{ sku: string; name: string; quantity: number; unit_price_usd: number }>;
  carrier: string | null;
  tracking: string | null;
  placedAt: string;
  shippedAt: string | null;
  estimatedDelivery: string | null;
}

const KEYBOARD = { sku: 'HW-KB-101', name: 'Mechanical Keyboard Pro', unit_price_usd: 129 };
const MOUSE = { sku: 'HW-MS-102', name: 'Wireless Ergonomic Mouse', unit_price_usd: 59 };
const DOCK = { sku: 'HW-DK-103', name: 'USB-C Docking Station', unit_price_usd: 189 };
const WEBCAM = { sku: 'HW-CM-201', name: '4K Webcam', unit_price_usd: 149 };
const HEADSET = { sku: 'HW-HS-202', name: 'Noise-Cancelling Headset', unit_price_usd: 219 };

const ORDERS: OrderSeed[] = [
  {
    number: '1001',
    email: 'jane.doe@example.com',
    status: 'shipped',
    items: [
      { ...KEYBOARD, quantity: 1 },
      { ...MOUSE, quantity: 1 },
    ],
    carrier: 'UPS',
    tracking: '1Z999AA10123456784',
    placedAt: '2026-11-16T09:12:00Z',
    shippedAt: '2026-11-17T15:40:00Z',
    estimatedDelivery: '2026-11-21',
  },
  {
    number: '1002',
    email: 'sam.lee@example.com',
    status: 'delivered',
    items: [{ ...HEADSET, quantity: 1 }],
    carrier: 'FedEx',
    tracking: '794644790132',
    placedAt: '2026-11-02T18:03:00Z',
    shippedAt: '2026-11-03T10:15:00Z',
    estimatedDelivery: '2026-11-07',
  },
  {
    number: '1003',
    email: 'priya.patel@example.com',
    status: 'processing',
    items: [{ ...DOCK, quantity: 2 }],
    carrier: null,
    tracking: null,
    placedAt: '2026-11-19T11:47:00Z',
    shippedAt: null,
    estimatedDelivery: '2026-11-26',
  },
  {
    number: '1004',
    email: 'marco.rossi@example.com',
    status: 'placed',
    items: [{ ...WEBCAM, quantity: 1 }],
    carrier: null,
    tracking: null,
    placedAt: '2026-11-20T07:30:00Z',
    shippedAt: null,
    estimatedDelivery: '2026-11-27',
  },
  {
    number: '1005',
    email: 'jane.doe@example.com',
    status: 'cancelled',
    items: [{ ...MOUSE, quantity: 3 }],
    carrier: null,
    tracking: null,
    placedAt: '2026-10-28T13:05:00Z',
    shippedAt: null,
    estimatedDelivery: null,
  },
  {
    number: '1006',
    email: 'li.wei@example.com',
    status: 'refunded',
    items: [{ ...HEADSET, quantity: 1 }],
    carrier: 'DHL',
    tracking: 'JD014600006281230000',
    placedAt: '2026-10-12T08:20:00Z',
    shippedAt: '2026-10-13T09:00:00Z',
    estimatedDelivery: '2026-10-20',
  },
  {
    number: '1007',
    email: 'amara.okafor@example.com',
    status: 'shipped',
    items: [
      { ...DOCK, quantity: 1 },
      { ...WEBCAM, quantity: 1 },
      { ...HEADSET, quantity: 1 },
    ],
    carrier: 'DHL',
    tracking: 'JD014600006281239999',
    placedAt: '2026-11-15T16:55:00Z',
    shippedAt: '2026-11-18T12:10:00Z',
    estimatedDelivery: '2026-11-25',
  },
  {
    number: '1008',
    email: 'tom.becker@example.com',
    status: 'delivered',
    items: [{ ...KEYBOARD, quantity: 5 }],
    carrier: 'UPS',
    tracking: '1Z999AA10123456791',
    placedAt: '2026-10-30T10:00:00Z',
    shippedAt: '2026-10-30T17:45:00Z',
    estimatedDelivery: '2026-11-04',
  },
  {
    number: '1009',
    email: 'sofia.garcia@example.com',
    status: 'processing',
    items: [
      { ...MOUSE, quantity: 2 },
      { ...KEYBOARD, quantity: 2 },
    ],
    carrier: null,
    tracking: null,
    placedAt: '2026-11-19T20:14:00Z',
    shippedAt: null,
    estimatedDelivery: '2026-11-28',
  },
  {
    number: '1010',
    email: 'noah.kim@example.com',
    status: 'shipped',
    items: [{ ...WEBCAM, quantity: 2 }],
    carrier: 'FedEx',
    tracking: '794644790178',
    placedAt: '2026-11-14T14:22:00Z',
    shippedAt: '2026-11-16T09:35:00Z',
    estimatedDelivery: '2026-11-20',
  },
];

export class DemoData1764000000100 implements MigrationInterface {
  name = 'DemoData1764000000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE kb_articles (
        id serial PRIMARY KEY,
        slug text NOT NULL UNIQUE,
        title text NOT NULL,
        body text NOT NULL,
        tags text[] NOT NULL DEFAULT '{}',
        search_vector tsvector GENERATED ALWAYS AS (
          setweight(to_tsvector('english'::regconfig, title), 'A') ||
          setweight(to_tsvector('english'::regconfig, body), 'B')
        ) STORED,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX kb_articles_search_idx ON kb_articles USING GIN (search_vector)`);

    await q.query(`
      CREATE TABLE products (
        id serial PRIMARY KEY,
        sku text NOT NULL UNIQUE,
        name text NOT NULL,
        description text NOT NULL,
        category text NOT NULL,
        price_usd numeric(12, 2) NOT NULL CHECK (price_usd >= 0),
        active boolean NOT NULL DEFAULT true
      )`);
    await q.query(`CREATE INDEX products_category_idx ON products (lower(category)) WHERE active`);

    await q.query(`
      CREATE TABLE pricing_plans (
        id serial PRIMARY KEY,
        plan_code text NOT NULL UNIQUE,
        name text NOT NULL,
        monthly_price_usd numeric(12, 2) NOT NULL,
        annual_price_usd numeric(12, 2) NOT NULL,
        seats_included integer NOT NULL CHECK (seats_included > 0),
        max_seats integer CHECK (max_seats IS NULL OR max_seats >= seats_included),
        extra_seat_monthly_usd numeric(12, 2) NOT NULL,
        extra_seat_annual_usd numeric(12, 2) NOT NULL,
        features text[] NOT NULL DEFAULT '{}',
        sort_order integer NOT NULL DEFAULT 0
      )`);

    await q.query(`
      CREATE TABLE orders (
        id serial PRIMARY KEY,
        order_number text NOT NULL UNIQUE,
        customer_email text NOT NULL,
        status text NOT NULL
          CHECK (status IN ('placed', 'processing', 'shipped', 'delivered', 'cancelled', 'refunded')),
        items jsonb NOT NULL,
        total_usd numeric(12, 2) NOT NULL,
        carrier text,
        tracking_number text,
        placed_at timestamptz NOT NULL,
        shipped_at timestamptz,
        estimated_delivery date
      )`);

    await q.query(`CREATE SEQUENCE support_ticket_number_seq START WITH 100`);
    await q.query(`
      CREATE TABLE support_tickets (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        ticket_number text NOT NULL UNIQUE
          DEFAULT 'TCK-' || lpad(nextval('support_ticket_number_seq')::text, 6, '0'),
        tenant_id text NOT NULL,
        conversation_id uuid,
        task_id uuid,
        tool_use_id text NOT NULL,
        subject text NOT NULL,
        description text NOT NULL,
        priority text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
        customer_email text,
        status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'solved', 'closed')),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`ALTER SEQUENCE support_ticket_number_seq OWNED BY support_tickets.ticket_number`);
    // One ticket per tool call: a re-run task (or a retried tool call) must not open a second ticket.
    // task_id is folded to a fixed UUID because NULLs never conflict in a unique index.
    await q.query(`
      CREATE UNIQUE INDEX support_tickets_tool_call_key ON support_tickets
        (tenant_id, tool_use_id, (coalesce(task_id, '00000000-0000-0000-0000-000000000000'::uuid)))`);
    await q.query(
      `CREATE INDEX support_tickets_tenant_created_idx ON support_tickets (tenant_id, created_at DESC)`,
    );

    for (const article of ARTICLES) {
      await q.query(`INSERT INTO kb_articles (slug, title, body, tags) VALUES ($1, $2, $3, $4)`, [
        article.slug,
        article.title,
        article.body,
        article.tags,
      ]);
    }
    for (const product of PRODUCTS) {
      await q.query(
        `INSERT INTO products (sku, name, description, category, price_usd, active) VALUES ($1, $2, $3, $4, $5, $6)`,
        product,
      );
    }
    for (const [index, plan] of PLANS.entries()) {
      await q.query(
        `INSERT INTO pricing_plans (plan_code, name, monthly_price_usd, annual_price_usd, seats_included, max_seats,
           extra_seat_monthly_usd, extra_seat_annual_usd, features, sort_order)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [...plan, index + 1],
      );
    }
    for (const order of ORDERS) {
      const totalCents = order.items.reduce(
        (sum, item) => sum + Math.round(item.unit_price_usd * 100) * item.quantity,
        0,
      );
      await q.query(
        `INSERT INTO orders (order_number, customer_email, status, items, total_usd, carrier, tracking_number,
           placed_at, shipped_at, estimated_delivery)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          order.number,
          order.email,
          order.status,
          JSON.stringify(order.items),
          (totalCents / 100).toFixed(2),
          order.carrier,
          order.tracking,
          order.placedAt,
          order.shippedAt,
          order.estimatedDelivery,
        ],
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE support_tickets`);
    await q.query(`DROP SEQUENCE IF EXISTS support_ticket_number_seq`);
    await q.query(`DROP TABLE orders`);
    await q.query(`DROP TABLE pricing_plans`);
    await q.query(`DROP TABLE products`);
    await q.query(`DROP TABLE kb_articles`);
  }
}
