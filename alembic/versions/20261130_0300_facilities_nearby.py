"""facilities nearby: categories, facilities, the walking network, data state

Revision ID: 0300
Revises: 0600
Create Date: 2026-11-30 02:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0300'
down_revision: str | Sequence[str] | None = '0600'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Facility types of DOMAIN.md, by the five goals and their walking tier (minutes).
# (code, 中文名, English, group, tier, OSM tags that map to it)
CATEGORIES = [
    ('party_service_center', '党群服务中心', 'Party and community service centre', '宜居', 15, []),
    ('community_service_center', '社区综合服务中心', 'Community service centre', '宜居', 15,
     ['amenity=community_centre']),
    ('renminfang', '人民坊', 'Renminfang neighbourhood hub', '宜居', 15, []),
    ('liuyiting', '六艺亭', 'Liuyiting neighbourhood kiosk', '宜居', 5, []),
    ('market', '菜市场', 'Fresh food market', '宜居', 10,
     ['amenity=marketplace', 'shop=greengrocer']),
    ('convenience_store', '便利店', 'Convenience store', '宜居', 5,
     ['shop=convenience', 'shop=supermarket']),
    ('bus_stop', '公交站', 'Bus stop', '宜居', 5, ['highway=bus_stop']),
    ('employment_station', '就业服务站', 'Employment service station', '宜业', 15,
     ['office=employment_agency']),
    ('park', '公园', 'Park', '宜游', 15, ['leisure=park']),
    ('pocket_park', '口袋公园', 'Pocket park', '宜游', 5, ['leisure=playground']),
    ('community_garden', '社区花园', 'Community garden', '宜游', 5, ['leisure=garden']),
    ('culture_center', '文化活动中心', 'Culture centre', '宜游', 15,
     ['amenity=arts_centre', 'amenity=theatre']),
    ('fitness_center', '市民健身中心', 'Sports centre', '宜游', 15,
     ['leisure=sports_centre', 'leisure=fitness_centre']),
    ('fitness_spot', '健身点', 'Outdoor fitness spot', '宜游', 5, ['leisure=fitness_station']),
    ('childcare', '托育点', 'Childcare', '宜学', 10, ['amenity=childcare']),
    ('kindergarten', '幼儿园', 'Kindergarten', '宜学', 10, ['amenity=kindergarten']),
    ('primary_school', '小学', 'Primary school', '宜学', 10, ['amenity=school']),
    ('community_school', '社区（老年）学校', 'Community school for seniors', '宜学', 15, []),
    ('library', '社区图书馆', 'Library', '宜学', 15, ['amenity=library']),
    ('health_center', '社区卫生服务中心', 'Community health centre', '宜养', 15,
     ['amenity=clinic', 'amenity=hospital', 'healthcare=centre']),
    ('health_station', '社区卫生服务站', 'Community health station', '宜养', 10,
     ['amenity=doctors']),
    ('pharmacy', '药店', 'Pharmacy', '宜养', 10, ['amenity=pharmacy']),
    ('elderly_center', '综合为老服务中心', 'Integrated elderly care centre', '宜养', 15,
     ['social_facility=nursing_home', 'social_facility=assisted_living']),
    ('day_care', '日间照料中心', 'Elderly day care', '宜养', 10, ['social_facility=day_care']),
    ('elderly_canteen', '长者食堂/老年助餐点', 'Seniors canteen', '宜养', 5, []),
    ('elderly_activity_room', '老年活动室', 'Elderly activity room', '宜养', 5, []),
]


def upgrade() -> None:
    categories = op.create_table('facility_categories',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name_zh', sa.String(length=50), nullable=False),
    sa.Column('name_en', sa.String(length=80), nullable=False),
    sa.Column('group', sa.String(length=8), nullable=False),
    sa.Column('tier_minutes', sa.Integer(), nullable=False),
    sa.Column('osm_tags', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('sort_order', sa.Integer(), server_default='0', nullable=False),
    sa.CheckConstraint("\"group\" IN ('宜居', '宜业', '宜游', '宜学', '宜养')", name=op.f('ck_facility_categories_group_known')),
    sa.CheckConstraint('tier_minutes BETWEEN 1 AND 60', name=op.f('ck_facility_categories_tier_range')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_facility_categories'))
    )
    op.bulk_insert(categories, [
        {'code': c, 'name_zh': zh, 'name_en': en, 'group': g, 'tier_minutes': t,
         'osm_tags': tags, 'sort_order': i}
        for i, (c, zh, en, g, t, tags) in enumerate(CATEGORIES)
    ])
    op.create_table('facilities',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lng', sa.Float(), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('lat BETWEEN -90 AND 90 AND lng BETWEEN -180 AND 180', name=op.f('ck_facilities_coords_range')),
    sa.ForeignKeyConstraint(['category'], ['facility_categories.code'], name=op.f('fk_facilities_category_facility_categories')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_facilities')),
    sa.UniqueConstraint('source', 'external_id', name='uq_facilities_source_external_id')
    )
    op.create_index(op.f('ix_facilities_category'), 'facilities', ['category'], unique=False)
    op.create_table('walk_nodes',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lng', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_walk_nodes'))
    )
    op.create_index(op.f('ix_walk_nodes_source'), 'walk_nodes', ['source'], unique=False)
    op.create_table('walk_edges',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('u', sa.BigInteger(), nullable=False),
    sa.Column('v', sa.BigInteger(), nullable=False),
    sa.Column('length_m', sa.Float(), nullable=False),
    sa.CheckConstraint('length_m >= 0', name=op.f('ck_walk_edges_length_non_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_walk_edges'))
    )
    op.create_index(op.f('ix_walk_edges_source'), 'walk_edges', ['source'], unique=False)
    op.create_table('facility_data_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), server_default='1', nullable=False),
    sa.Column('key', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_facility_data_state_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_facility_data_state'))
    )
    op.execute('INSERT INTO facility_data_state (id) VALUES (1)')


def downgrade() -> None:
    op.drop_table('facility_data_state')
    op.drop_index(op.f('ix_walk_edges_source'), table_name='walk_edges')
    op.drop_table('walk_edges')
    op.drop_index(op.f('ix_walk_nodes_source'), table_name='walk_nodes')
    op.drop_table('walk_nodes')
    op.drop_index(op.f('ix_facilities_category'), table_name='facilities')
    op.drop_table('facilities')
    op.drop_table('facility_categories')
